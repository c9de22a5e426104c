using System.Net;
using System.Text;
using ClP2p.Discovery.Crypto;
using static ClP2p.Discovery.Tests.Hex;

namespace ClP2p.Discovery.Tests;

public class EnrTests
{
    [Fact]
    public void A_record_verified_once_is_taken_from_the_cache_but_a_copy_with_its_signature_and_other_content_is_checked()
    {
        var cache = new VerifiedRecords(1_000);
        var genuine = new EnrBuilder().WithSeq(3).WithIp(IPAddress.Parse("192.0.2.7")).WithUdp(30303).Build(Eip778Key).Raw.ToArray();
        Assert.True(cache.TryDecode(genuine, out var first));
        Assert.True(cache.TryDecode(genuine.ToArray(), out var again));
        Assert.Same(first, again);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Verified);

        // the same signature (and so the same cache key), one byte of the content changed (the udp port's last byte)
        var forged = genuine.ToArray();
        forged[^1] ^= 1;
        Assert.False(cache.TryDecode(forged, out _));
        Assert.Equal(1, cache.Hits);
        Assert.Equal(2, cache.Verified);
        // and the genuine record is still the cached one
        Assert.True(cache.TryDecode(genuine, out var third));
        Assert.Same(first, third);
    }

    [Fact]
    public void Hints_ahead_of_lookups_change_nothing_a_lookup_finds_whatever_the_bytes()
    {
        var cache = new VerifiedRecords(1_000);
        var known = new EnrBuilder().WithSeq(1).WithIp(IPAddress.Parse("192.0.2.8")).WithUdp(30303).Build(Eip778Key).Raw.ToArray();
        var unknown = new EnrBuilder().WithSeq(2).WithIp(IPAddress.Parse("192.0.2.9")).WithUdp(30303).Build(Eip778Key).Raw.ToArray();
        Assert.True(cache.TryDecode(known, out var first));
        byte[][] inputs = [known, unknown, [], [0xc0], new byte[15], new byte[16], B("f884")];
        for (int level = 0; level < 2; level++)
            foreach (var raw in inputs) cache.Prefetch(raw, level);
        Assert.True(cache.TryDecode(known, out var again));
        Assert.Same(first, again);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Verified);
        Assert.True(cache.TryDecode(unknown, out var other));
        Assert.Equal(2UL, other!.Seq);
        Assert.Equal(2, cache.Verified);
    }

    internal const string Eip778Text = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
    internal const string Eip778Rlp = "f884b8407098ad865b00a582051940cb9cf36836572411a47278783077011599ed5cd16b76f2635f4e234738f30813a89eb9137e3e3df5266e3a1f11df72ecf1145ccb9c01826964827634826970847f00000189736563703235366b31a103ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31388375647082765f";
    internal static readonly byte[] Eip778Key = B("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291");
    private const string Exact300 = "enr:-QEpuEDaLyrPP4gxBI9YL7QE9U1tZig_Nt8rue8bRIuYv_IMziFc8OEt3LQMwkwt6da-Z0Y8BaqkDalZbBq647UtV2eiAYJpZIJ2NIJpcIR_AAABiXNlY3AyNTZrMaEDymNMrg1JrLQB2KTGtv6MVbcNEVv0AHacwUAPMljNMTiDdWRwgnZferiieHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4";
    private const string Over300 = "enr:-QEquEBxABglcZbIGKJ8RHDCp2Ft59tdf61RhV3XXf2BKTlKE2XwzNfihH-46hKkANsXaGRwH8Dp7a3lTrKiv2FMMaFYAYJpZIJ2NIJpcIR_AAABiXNlY3AyNTZrMaEDymNMrg1JrLQB2KTGtv6MVbcNEVv0AHacwUAPMljNMTiDdWRwgnZferijeHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA";

    private static readonly string[] MainnetBootnodes =
    [
        "enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo",
        "enr:-Iu4QEDJ4Wa_UQNbK8Ay1hFEkXvd8psolVK6OhfTL9irqz3nbXxxWyKwEplPfkju4zduVQj6mMhUCm9R2Lc4YM5jPcIBgmlkgnY0gmlwhANrfESJc2VjcDI1NmsxoQJCYz2-nsqFpeEj6eov9HSi9QssIVIVNr0I89J1vXM9foN0Y3CCIyiDdWRwgiMo",
        "enr:-Ku4QImhMc1z8yCiNJ1TyUxdcfNucje3BGwEHzodEZUan8PherEo4sF7pPHPSIB1NNuSg5fZy7qFsjmUKs2ea1Whi0EBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpD1pf1CAAAAAP__________gmlkgnY0gmlwhBLf22SJc2VjcDI1NmsxoQOVphkDqal4QzPMksc5wnpuC3gvSC8AfbFOnZY_On34wIN1ZHCCIyg",
        "enr:-Ku4QP2xDnEtUXIjzJ_DhlCRN9SN99RYQPJL92TMlSv7U5C1YnYLjwOQHgZIUXw6c-BvRg2Yc2QsZxxoS_pPRVe0yK8Bh2F0dG5ldHOIAAAAAAAAAACEZXRoMpD1pf1CAAAAAP__________gmlkgnY0gmlwhBLf22SJc2VjcDI1NmsxoQMeFF5GrS7UZpAH2Ly84aLK-TyvH-dRo0JM1i8yygH50YN1ZHCCJxA",
        "enr:-Ku4QPp9z1W4tAO8Ber_NQierYaOStqhDqQdOPY3bB3jDgkjcbk6YrEnVYIiCBbTxuar3CzS528d2iE7TdJsrL-dEKoBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpD1pf1CAAAAAP__________gmlkgnY0gmlwhBLf22SJc2VjcDI1NmsxoQMw5fqqkw2hHC4F5HZZDPsNmPdB1Gi8JPQK7pRc9XHh-oN1ZHCCKvg",
        "enr:-Le4QPUXJS2BTORXxyx2Ia-9ae4YqA_JWX3ssj4E_J-3z1A-HmFGrU8BpvpqhNabayXeOZ2Nq_sbeDgtzMJpLLnXFgAChGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISsaa0Zg2lwNpAkAIkHAAAAAPA8kv_-awoTiXNlY3AyNTZrMaEDHAD2JKYevx89W0CcFJFiskdcEzkH_Wdv9iW42qLK79ODdWRwgiMohHVkcDaCI4I",
        "enr:-Le4QLHZDSvkLfqgEo8IWGG96h6mxwe_PsggC20CL3neLBjfXLGAQFOPSltZ7oP6ol54OvaNqO02Rnvb8YmDR274uq8ChGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISLosQxg2lwNpAqAX4AAAAAAPA8kv_-ax65iXNlY3AyNTZrMaEDBJj7_dLFACaxBfaI8KZTh_SSJUjhyAyfshimvSqo22WDdWRwgiMohHVkcDaCI4I",
        "enr:-Le4QH6LQrusDbAHPjU_HcKOuMeXfdEB5NJyXgHWFadfHgiySqeDyusQMvfphdYWOzuSZO9Uq2AMRJR5O4ip7OvVma8BhGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISLY9ncg2lwNpAkAh8AgQIBAAAAAAAAAAmXiXNlY3AyNTZrMaECDYCZTZEksF-kmgPholqgVt8IXr-8L7Nu7YrZ7HUpgxmDdWRwgiMohHVkcDaCI4I",
        "enr:-Le4QIqLuWybHNONr933Lk0dcMmAB5WgvGKRyDihy1wHDIVlNuuztX62W51voT4I8qD34GcTEOTmag1bcdZ_8aaT4NUBhGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISLY04ng2lwNpAkAh8AgAIBAAAAAAAAAA-fiXNlY3AyNTZrMaEDscnRV6n1m-D9ID5UsURk0jsoKNXt1TIrj8uKOGW6iluDdWRwgiMohHVkcDaCI4I",
        "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg",
        "enr:-Ku4QG-2_Md3sZIAUebGYT6g0SMskIml77l6yR-M_JXc-UdNHCmHQeOiMLbylPejyJsdAPsTHJyjJB2sYGDLe0dn8uYBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhBLY-NyJc2VjcDI1NmsxoQORcM6e19T1T9gi7jxEZjk_sjVLGFscUNqAY9obgZaxbIN1ZHCCIyg",
        "enr:-Ku4QPn5eVhcoF1opaFEvg1b6JNFD2rqVkHQ8HApOKK61OIcIXD127bKWgAtbwI7pnxx6cDyk_nI88TrZKQaGMZj0q0Bh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhDayLMaJc2VjcDI1NmsxoQK2sBOLGcUb4AwuYzFuAVCaNHA-dy24UuEKkeFNgCVCsIN1ZHCCIyg",
        "enr:-Ku4QEWzdnVtXc2Q0ZVigfCGggOVB2Vc1ZCPEc6j21NIFLODSJbvNaef1g4PxhPwl_3kax86YPheFUSLXPRs98vvYsoBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhDZBrP2Jc2VjcDI1NmsxoQM6jr8Rb1ktLEsVcKAPa08wCsKUmvoQ8khiOl_SLozf9IN1ZHCCIyg",
        "enr:-LK4QA8FfhaAjlb_BXsXxSfiysR7R52Nhi9JBt4F8SPssu8hdE1BXQQEtVDC3qStCW60LSO7hEsVHv5zm8_6Vnjhcn0Bh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAN4aBKJc2VjcDI1NmsxoQJerDhsJ-KxZ8sHySMOCmTO6sHM3iCFQ6VMvLTe948MyYN0Y3CCI4yDdWRwgiOM",
        "enr:-LK4QKWrXTpV9T78hNG6s8AM6IO4XH9kFT91uZtFg1GcsJ6dKovDOr1jtAAFPnS2lvNltkOGA9k29BUN7lFh_sjuc9QBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhANAdd-Jc2VjcDI1NmsxoQLQa6ai7y9PMN5hpLe5HmiJSlYzMuzP7ZhwRiwHvqNXdoN0Y3CCI4yDdWRwgiOM",
        "enr:-IS4QPi-onjNsT5xAIAenhCGTDl4z-4UOR25Uq-3TmG4V3kwB9ljLTb_Kp1wdjHNj-H8VVLRBSSWVZo3GUe3z6k0E-IBgmlkgnY0gmlwhKB3_qGJc2VjcDI1NmsxoQMvAfgB4cJXvvXeM6WbCG86CstbSxbQBSGx31FAwVtOTYN1ZHCCIyg",
        "enr:-KG4QCb8NC3gEM3I0okStV5BPX7Bg6ZXTYCzzbYyEXUPGcZtHmvQtiJH4C4F2jG7azTcb9pN3JlgpfxAnRVFzJ3-LykBgmlkgnY0gmlwhFPlR9KDaXA2kP6AAAAAAAAAAlBW__4my5iJc2VjcDI1NmsxoQLdUv9Eo9sxCt0tc_CheLOWnX59yHJtkBSOL7kpxdJ6GYN1ZHCCIyiEdWRwNoIjKA",
    ];

    private static readonly string[] MainnetBootnodeIds =
    [
        "c61faf016452f8ce284e6521b13dc75895862b60eff3c8ff7248b3154e81b733",
        "b55cb6e27f9d714e2bcf6199ccebad6593db24d8c144ddd24f200405bf264b59",
        "191bbf49632da5393590a33d54421e79e8e5c96ade72f0ba69e1803095de6b04",
        "33be033e4c249643e61970998edacab44a65fcd256aa5aefdff39662cfd21a49",
        "aa87ab6db5f5a1e3cbd9d882fc2fee0524785dc97373899ab360c9944b6866bd",
        "97209eae44c2d45dce2f9d949f33105891c0694a7d1f5f1783c43adce3a3f82e",
        "9520ea195498ea74563f037cf5ea732fd446bb5952ec52e8493f38739a50953e",
        "09a38529f3aff50eb482495bbe86244ef42dbd7e322a1abb4a6480ef9c0ecd54",
        "692a99b88a589a1f1f31d295c0ad4b0b1b4aa152f3c5510f0519ac13700980d2",
        "ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269",
        "e6e8bf5a8226432f492ae7484a2a324392dcac3b4eeaa219384708d8653ba36b",
        "f7fa00ba76b8e33caae49ba504b81a2389a963a7c990ec722c085ec663ac2492",
        "73b3df542a85283fb4633bc1239077ef31326a528d9be476b961bc9dc84ba90f",
        "384241dbeec49282df80af89ce0da3ddd230fea931ca0b5d1e60362785c4d090",
        "29bfc5c65cca8641299f5c58627624d5510e33d35c4fbf16484de01544b0bf7e",
        "9e302a3e6c431235c3ecced2f8cf34468bc78d218e3e293c51e0f6127277f114",
        "cb94b71cf44cce82a7109d8482bba73239dbbad5aeeaa844ab2ed53b9447268b",
    ];

    [Fact]
    public void Decode_accepts_eip778_example_with_all_fields()
    {
        Assert.True(Enr.TryParse(Eip778Text, out var enr, out var err), err.ToString());
        Assert.Equal(1UL, enr!.Seq);
        Assert.Equal("a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7", enr.NodeId.ToString());
        Assert.Equal("03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138", S(enr.PublicKey));
        Assert.Equal(IPAddress.Loopback, enr.Ip);
        Assert.Equal(30303, enr.Udp);
        Assert.Null(enr.Tcp);
        Assert.Equal(Eip778Rlp, S(enr.Raw.Span));
        Assert.Equal("7098ad865b00a582051940cb9cf36836572411a47278783077011599ed5cd16b76f2635f4e234738f30813a89eb9137e3e3df5266e3a1f11df72ecf1145ccb9c", S(enr.Signature));
        Assert.Equal(Eip778Text, enr.ToText());
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 30303), enr.UdpEndPoint);
    }

    [Fact]
    public void Builder_reproduces_eip778_example_byte_for_byte()
    {
        var enr = new EnrBuilder().WithSeq(1).WithIp(IPAddress.Loopback).WithUdp(30303).Build(Eip778Key);
        Assert.Equal(Eip778Rlp, S(enr.Raw.Span));
    }

    [Fact]
    public void Decode_accepts_record_without_enr_prefix() =>
        Assert.True(Enr.TryParse(Eip778Text["enr:".Length..], out _, out _));

    [Fact]
    public void Decode_accepts_sigp_record_with_tcp_and_udp()
    {
        var enr = Enr.Parse("enr:-Iu4QM-YJF2RRpMcZkFiWzMf2kRd1A5F1GIekPa4Sfi_v0DCLTDBfOMTMMWJhhawr1YLUPb5008CpnBKrgjY3sstjfgCgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQP8u1uyQFyJYuQUTyA1raXKhSw1HhhxNUQ2VE52LNHWMIN0Y3CCIyiDdWRwgiMo");
        Assert.Equal(9000, enr.Tcp);
        Assert.Equal(9000, enr.Udp);
        Assert.Equal("2ba1bcc707d2836bfdf6227847022e33edf599003226416805fa05facd81acde", enr.NodeId.ToString());
    }

    [Fact]
    public void Decode_keeps_nested_list_values_as_raw_items()
    {
        var enr = Enr.Parse("enr:-Je4QH0uN2HkMRmscUp6yvyTOPGtOg9U6lCxBFvCGynyystnDNRJbfz5GhXXY2lcu9tsghMxRiYHoznBwG46GQ7dfm0og2V0aMfGhMvbiDiAgmlkgnY0gmlwhA6hJmuJc2VjcDI1NmsxoQJBP4kg9GNBurV3uVXgR72u1n-XIABibUZLT1WvJLKwvIN0Y3CCdyeDdWRwgncn");
        Assert.Equal(40UL, enr.Seq);
        Assert.Equal(IPAddress.Parse("14.161.38.107"), enr.Ip);
        Assert.Equal(30503, enr.Tcp);
        Assert.Equal("00104e2267885fbd45366e88ce2fc52dc1bbd02f1a4f9ebfc19355f7a04b68d3", enr.NodeId.ToString());
        Assert.True(enr.TryGetValue("eth", out var eth, out bool isList));
        Assert.True(isList);
        Assert.Equal("c7c684cbdb883880", S(eth.Span));
    }

    [Fact]
    public void Records_share_the_strings_of_well_known_keys_and_keep_every_other_key_and_value()
    {
        // a crawl holds tens of thousands of records: the keys every record carries are one string each, not one per record
        var a = new EnrBuilder().WithSeq(3).WithIp(IPAddress.Loopback).WithUdp(9000).With("eth2", [1, 2, 3, 4]).With("zz", [7, 8]).Build(Eip778Key);
        var b = new EnrBuilder().WithSeq(4).WithIp(IPAddress.Loopback).WithUdp(9001).With("eth2", [5, 6]).With("zz", [9]).Build(Eip778Key);
        var ka = a.Keys.ToList();
        var kb = b.Keys.ToList();
        Assert.Equal(["eth2", "id", "ip", "secp256k1", "udp", "zz"], ka);
        foreach (string known in new[] { "eth2", "id", "ip", "secp256k1", "udp" })
            Assert.Same(ka[ka.IndexOf(known)], kb[kb.IndexOf(known)]);
        Assert.NotSame(ka[ka.IndexOf("zz")], kb[kb.IndexOf("zz")]);
        Assert.Equal([1, 2, 3, 4], a.GetValue("eth2"));
        Assert.Equal([7, 8], a.GetValue("zz"));
        Assert.Equal([9], b.GetValue("zz"));
        Assert.Equal(9001, b.Udp);
        Assert.Equal(a.PublicKey.ToArray(), b.PublicKey.ToArray());
        Assert.Equal("03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138", S(b.PublicKey));
    }

    [Fact]
    public void Decode_accepts_record_of_exactly_300_bytes()
    {
        Assert.True(Enr.TryParse(Exact300, out var enr, out var err), err.ToString());
        Assert.Equal(300, enr!.Raw.Length);
    }

    [Fact]
    public void Decode_rejects_enr_over_300_bytes()
    {
        Assert.False(Enr.TryParse(Over300, out _, out var err));
        Assert.Equal(EnrError.TooLarge, err);
        var raw = new byte[301]; raw[0] = 0xf9; raw[1] = 0x01; raw[2] = 0x2a;
        Assert.False(Enr.TryDecode(raw, out _, out err));
        Assert.Equal(EnrError.TooLarge, err);
    }

    [Theory]
    [InlineData("=")]
    [InlineData("==")]
    public void Decode_rejects_base64_padding(string pad)
    {
        Assert.False(Enr.TryParse(Eip778Text + pad, out _, out var err));
        Assert.Equal(EnrError.BadBase64, err);
    }

    [Fact]
    public void Decode_rejects_non_zero_trailing_bits() =>
        Assert.False(Enr.TryParse(Eip778Text[..^1] + "9", out _, out _));

    [Fact]
    public void Decode_rejects_leading_zero_in_seq()
    {
        Assert.False(Enr.TryParse("enr:-Ia4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5yCAAGCaWSCdjSCaXCEfwAAAYlzZWNwMjU2azGhA8pjTK4NSay0Adikxrb-jFW3DRFb9AB2nMFADzJYzTE4g3VkcIJ2Xw", out _, out var err));
        Assert.Equal(EnrError.NonCanonicalRlp, err);
    }

    [Theory]
    [InlineData("enr:-Hy4QDMsoimQl2Qb9CuIWlNjyt0C0DmZC4QpAsJzgUHowOq2Nph9UbAtZ_qS_8fl6SU-eSWrswHiLCoMUGQfjhl_GW0BgmlkgnY0iXNlY3AyNTZrMaECMoYV0PAXMueQz19FHpBO0jGBoLYCWhfSxGf5kQgk9KqDdGNwggAA")]
    [InlineData("enr:-Hy4QCCgTB9tAEJL1DFwTTtwd79xxQx2hvi5RX9vWvcdKqbpS3SDzHHBivpOgxE40HGt6P0NtCE5QKzOQ5fzBwepDfMBgmlkgnY0iXNlY3AyNTZrMaECMoYV0PAXMueQz19FHpBO0jGBoLYCWhfSxGf5kQgk9KqDdGNwggAe")]
    [InlineData("enr:-Hy4QOrU9C35gZyJigIi-u19sRP42eEjVEhzO-LnKXKM5VlDMZ45vnOIa3bqm15ap8pmLjq5kmRPzjuA0RUdzSsieqcBgmlkgnY0iXNlY3AyNTZrMaECMoYV0PAXMueQz19FHpBO0jGBoLYCWhfSxGf5kQgk9KqDdGNwggD_")]
    public void Decode_rejects_port_with_leading_zero(string text)
    {
        Assert.False(Enr.TryParse(text, out _, out var err));
        Assert.Equal(EnrError.BadKnownValue, err);
    }

    [Fact]
    public void Decode_accepts_canonical_tcp_port_without_ip()
    {
        var enr = Enr.Parse("enr:-Hy4QF_mn4BuM6hY4CuLH8xDQd7U8kVZe9fyNgRB1vjdToGWQsQhetRvsByoJCWGQ6kf2aiWC0le24lkp0IPIJkLSTUBgmlkgnY0iXNlY3AyNTZrMaECMoYV0PAXMueQz19FHpBO0jGBoLYCWhfSxGf5kQgk9KqDdGNwgnZf");
        Assert.Equal(30303, enr.Tcp);
        Assert.Null(enr.Ip);
        Assert.Null(enr.UdpEndPoint);
    }

    [Fact]
    public void Decode_rejects_list_length_too_short()
    {
        var raw = B(Eip778Rlp); raw[1] = 0x83;
        Assert.False(Enr.TryDecode(raw, out _, out var err));
        Assert.Equal(EnrError.TrailingBytes, err);
    }

    [Fact]
    public void Decode_rejects_trailing_bytes()
    {
        Assert.False(Enr.TryDecode(B(Eip778Rlp + "fc"), out _, out var err));
        Assert.Equal(EnrError.TrailingBytes, err);
    }

    [Fact]
    public void Decode_rejects_flipped_signature_bit()
    {
        for (int bit = 0; bit < 64 * 8; bit += 37)
        {
            var raw = B(Eip778Rlp); raw[4 + bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(Enr.TryDecode(raw, out _, out var err));
            Assert.Equal(EnrError.BadSignature, err);
        }
    }

    [Fact]
    public void Decode_rejects_changed_content()
    {
        var raw = B(Eip778Rlp); raw[^1] ^= 1; // udp port
        Assert.False(Enr.TryDecode(raw, out _, out var err));
        Assert.Equal(EnrError.BadSignature, err);
    }

    [Fact]
    public void Decode_rejects_unsorted_keys() =>
        Assert.Equal(EnrError.KeysNotSorted, DecodeError(SignRaw(1, [("id", "v4"u8.ToArray()), ("secp256k1", Pub()), ("ip", [127, 0, 0, 1])])));

    [Fact]
    public void Decode_rejects_duplicate_keys() =>
        Assert.Equal(EnrError.DuplicateKey, DecodeError(SignRaw(1, [("id", "v4"u8.ToArray()), ("id", "v4"u8.ToArray()), ("secp256k1", Pub())])));

    [Fact]
    public void Decode_rejects_unknown_identity_scheme() =>
        Assert.Equal(EnrError.UnknownIdentityScheme, DecodeError(SignRaw(1, [("id", "v5"u8.ToArray()), ("secp256k1", Pub())])));

    [Fact]
    public void Decode_rejects_missing_public_key() =>
        Assert.Equal(EnrError.MissingPublicKey, DecodeError(SignRaw(1, [("id", "v4"u8.ToArray())])));

    [Fact]
    public void Decode_rejects_odd_key_value_count()
    {
        var raw = SignRaw(1, [("id", "v4"u8.ToArray()), ("secp256k1", Pub())], extraKey: "zz");
        Assert.Equal(EnrError.OddKeyValueCount, DecodeError(raw));
    }

    [Fact]
    public void Decode_rejects_bad_ip_length() =>
        Assert.Equal(EnrError.BadKnownValue, DecodeError(SignRaw(1, [("id", "v4"u8.ToArray()), ("ip", [1, 2, 3]), ("secp256k1", Pub())])));

    [Fact]
    public void Seq_is_a_full_ulong()
    {
        var enr = new EnrBuilder().WithSeq(ulong.MaxValue).Build(Eip778Key);
        Assert.Equal(ulong.MaxValue, Enr.Decode(enr.Raw.Span).Seq);
    }

    [Fact]
    public void Unknown_keys_are_kept_with_raw_bytes()
    {
        var eth2 = B("8c9f62fe06000000ffffffffffffffff");
        var enr = new EnrBuilder().WithSeq(5).WithIp(IPAddress.Parse("10.1.2.3")).WithUdp(9000).WithTcp(9001)
            .With("eth2", eth2).With("attnets", B("0100000000000080")).With("zzz", [0x00]).Build(Eip778Key);
        var back = Enr.Parse(enr.ToText());
        Assert.Equal(eth2, back.GetValue("eth2"));
        Assert.Equal(B("0100000000000080"), back.GetValue("attnets"));
        Assert.Equal(new byte[] { 0 }, back.GetValue("zzz"));
        Assert.Equal(new[] { "attnets", "eth2", "id", "ip", "secp256k1", "tcp", "udp", "zzz" }, back.Keys);
        Assert.Null(back.GetValue("nope"));
    }

    [Fact]
    public void Consensus_fields_record_from_vectors_decodes()
    {
        var enr = Enr.Parse("enr:-NK4QOm86os_yr5ZBmdGtiSjls0AZr9QdHIlZRIgwep6fCnJVwnK1ExaZcfbeSMp2uonk7BiFcwwoPGqxX3hV-qoQcEHh2F0dG5ldHOIAQAAAAAAAICDY2djBIRldGgykIyfYv4GAAAA__________-CaWSCdjSCaXCEfwAAAYNuZmSEAAAAAIRxdWljgiMpiXNlY3AyNTZrMaEDymNMrg1JrLQB2KTGtv6MVbcNEVv0AHacwUAPMljNMTiIc3luY25ldHMCg3RjcIIjKIN1ZHCCIyg");
        Assert.Equal(7UL, enr.Seq);
        Assert.Equal(9001, enr.Quic);
        Assert.Equal(B("04"), enr.GetValue("cgc"));
        Assert.Equal(B("8c9f62fe06000000ffffffffffffffff"), enr.GetValue("eth2"));
        Assert.Equal(B("02"), enr.GetValue("syncnets"));
        var cgc128 = Enr.Parse("enr:-NO4QHAi0E-kcGaj59T5pMMyNZFAYseaTWK0eantDCkaMIKkBo4Gj7uAcan-_XOEKfKTsrzIkDU1HMxMeg0GoAb0jW4Ih2F0dG5ldHOIAQAAAAAAAICDY2djgYCEZXRoMpCMn2L-BgAAAP__________gmlkgnY0gmlwhH8AAAGDbmZkhAAAAACEcXVpY4IjKYlzZWNwMjU2azGhA8pjTK4NSay0Adikxrb-jFW3DRFb9AB2nMFADzJYzTE4iHN5bmNuZXRzAoN0Y3CCIyiDdWRwgiMo");
        Assert.Equal(B("80"), cgc128.GetValue("cgc"));
        var cgc0 = Enr.Parse("enr:-NK4QNZdb8o-QZfbwPfYEWXN-ml180DAwu_yJIfLpxaNuQkpPLw9ogK5SWRaBJDBL09-Bp7ldNUIbM2tuQ1sObesILAJh2F0dG5ldHOIAQAAAAAAAICDY2djgIRldGgykIyfYv4GAAAA__________-CaWSCdjSCaXCEfwAAAYNuZmSEAAAAAIRxdWljgiMpiXNlY3AyNTZrMaEDymNMrg1JrLQB2KTGtv6MVbcNEVv0AHacwUAPMljNMTiIc3luY25ldHMCg3RjcIIjKIN1ZHCCIyg");
        Assert.Empty(cgc0.GetValue("cgc")!);
    }

    [Fact]
    public void Mainnet_bootnodes_decode_and_verify_with_expected_ids()
    {
        Assert.Equal(17, MainnetBootnodes.Length);
        for (int i = 0; i < MainnetBootnodes.Length; i++)
        {
            Assert.True(Enr.TryParse(MainnetBootnodes[i], out var enr, out var err), $"bootnode {i + 1}: {err}");
            Assert.Equal(MainnetBootnodeIds[i], enr!.NodeId.ToString());
            Assert.Equal(MainnetBootnodes[i], enr.ToText());
        }
        var linode = Enr.Parse(MainnetBootnodes[5]);
        Assert.Equal(IPAddress.Parse("2400:8907::f03c:92ff:fe6b:a13"), linode.Ip6);
        Assert.Equal(9090, linode.Udp6);
    }

    [Fact]
    public void Random_records_round_trip_through_text_and_rlp()
    {
        var rnd = new Random(11);
        var key = new byte[32];
        for (int i = 0; i < 50; i++)
        {
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
            var ip = new byte[4]; rnd.NextBytes(ip);
            var extra = new byte[rnd.Next(0, 40)]; rnd.NextBytes(extra);
            var b = new EnrBuilder().WithSeq((ulong)rnd.NextInt64()).WithIp(new IPAddress(ip)).WithUdp(rnd.Next(0, 65536)).With("x" + i, extra);
            if (i % 2 == 0) b.WithTcp(rnd.Next(1, 65536));
            var enr = b.Build(key);
            var back = Enr.Parse(enr.ToText());
            Assert.True(back.SameRecord(enr));
            Assert.Equal(enr.NodeId, back.NodeId);
            Assert.Equal(enr.Udp, back.Udp);
            Assert.Equal(enr.Tcp, back.Tcp);
            Assert.Equal(extra, back.GetValue("x" + i));
        }
    }

    [Fact]
    public void Builder_refuses_records_over_300_bytes() =>
        Assert.Throws<InvalidOperationException>(() => new EnrBuilder().With("big", new byte[300]).Build(Eip778Key));

    private static byte[] Pub() => Secp256k1Ops.CompressedPublicKey(Eip778Key);

    private static EnrError DecodeError(byte[] raw)
    {
        Assert.False(Enr.TryDecode(raw, out _, out var err));
        return err;
    }

    /// <summary>Builds and signs a record with the pairs in the given (possibly invalid) order.</summary>
    internal static byte[] SignRaw(ulong seq, (string Key, byte[] Value)[] pairs, string? extraKey = null)
    {
        var items = new List<byte[]>();
        void Add(ReadOnlySpan<byte> v) { var b = new byte[Rlp.LengthOfBytes(v)]; Rlp.WriteBytes(b, v); items.Add(b); }
        var s = new byte[Rlp.LengthOfUInt64(seq)]; Rlp.WriteUInt64(s, seq); items.Add(s);
        foreach (var (k, v) in pairs) { Add(Encoding.ASCII.GetBytes(k)); Add(v); }
        if (extraKey != null) Add(Encoding.ASCII.GetBytes(extraKey));
        int payload = items.Sum(i => i.Length);
        var content = new byte[Rlp.LengthOfList(payload)];
        int o = Rlp.WriteListHeader(content, payload);
        foreach (var i in items) { i.CopyTo(content, o); o += i.Length; }
        var hash = Keccak.Hash(content);
        var sig = new byte[64];
        Secp256k1Ops.TrySign(hash, Eip778Key, sig);
        int rp = 66 + payload;
        var rec = new byte[Rlp.LengthOfList(rp)];
        int r = Rlp.WriteListHeader(rec, rp);
        r += Rlp.WriteBytes(rec.AsSpan(r), sig);
        content.AsSpan(Rlp.HeaderLength(payload)).CopyTo(rec.AsSpan(r));
        return rec;
    }
}
