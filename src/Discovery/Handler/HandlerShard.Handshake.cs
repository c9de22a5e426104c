using System.Buffers.Binary;
using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Discovery.Handler;

internal sealed partial class HandlerShard
{
    /// <summary>A WHOAREYOU from a remote that could not read one of our packets: answer it with a handshake.</summary>
    private DropReason HandleWhoAreYou(PacketView view, IPEndPoint from)
    {
        var nonce = Nonce96.From(view.Nonce);
        // discv5-theory.md: "WHOAREYOU is only ever valid as a response to a previously sent request"
        if (!_byNonce.TryGetValue(nonce, out var entry))
        {
            // a late challenge to a first contact given up: the request now opening a session with that node takes it.
            // With no such request yet (the node's next pass has not started), the nonce stays remembered: the node
            // repeats the same challenge for every packet of ours while it is pending, so the copy drawn by the next
            // pass's first packet still finds it
            if (!_givenUp.TryGetValue(nonce, out var late) || !late.Address.EndPoint.Equals(from))
                return RepeatedChallengeCarrier(nonce, view.Header, from) is { } repeated
                    ? HandleWhoAreYouFor((repeated, false, null), nonce, view, from)
                    : DropReason.WhoAreYouUnsolicited;
            _ctx.Service.Responded(late.Address.Id);   // late, but the node is there
            _sessions.TryGetValue(late.Address, out var held);
            PendingRequest? carrier = null;
            if (late.Under is null)
            {
                if (_firstContacts.TryGetValue(late.Address, out var opening) && opening.Leader.Handshake is null && held is null)
                    carrier = opening.Leader;
            }
            else if (late.Under == held)
            {
                // the remote could not read a packet under the session we still use: any request waiting for that node
                // carries the handshake (every later packet under these keys only draws the same challenge again, which
                // names this given-up packet; answered by none, a slow node was never read again in simulated crawls)
                carrier = LiveRequestTo(late.Address);
            }
            if (carrier is null) return DropReason.WhoAreYouUnsolicited;
            _givenUp.Remove(nonce);
            entry = (carrier, false, late.Under);
        }
        return HandleWhoAreYouFor(entry, nonce, view, from);
    }

    /// <summary>A WHOAREYOU matched to the request it challenges (or that answers it for an earlier one).</summary>
    private DropReason HandleWhoAreYouFor((PendingRequest Request, bool WasHandshake, Session? Under) entry, Nonce96 nonce, PacketView view, IPEndPoint from)
    {
        var req = entry.Request;
        if (!req.Address.EndPoint.Equals(from)) return DropReason.WhoAreYouWrongSender;
        // a challenge to an earlier packet than the request's last: a late one, a copy the last drew, or a given-up
        // first contact's (above); the remote may have replaced or dropped it by the time our handshake arrives
        if (req.Nonces.Count > 0 && req.Nonces.Last != nonce) req.AnsweredOldChallenge = true;
        _ctx.Service.Responded(req.Address.Id);
        if (entry.WasHandshake)
        {
            // our handshake packet itself drew a WHOAREYOU: the remote rejected it (bad signature or keys on its
            // side); answering again would loop, so the request fails (geth and sigp do the same)
            Finish(req, RequestFailure.HandshakeRejected);
            return DropReason.WhoAreYouAfterHandshake;
        }
        // A remote re-sends the same WHOAREYOU bytes for every packet of ours it cannot read while its challenge is
        // pending (discv5-theory.md "Handshake Implementation Considerations"). When we already answered that very
        // challenge, the session it made is the one the remote is about to hold: a second handshake would replace it
        // with keys the remote never sees. The request that drew the copy is re-sent under that session instead.
        if (_sessions.TryGetValue(req.Address, out var current))
        {
            if (current.Challenge is { } answered && view.Header.SequenceEqual(answered))
            {
                if (req.Handshake is { } done && done.Session == current) return DropReason.WhoAreYouDuplicate;
                SendRequestPacket(req, countAttempt: false);
                return DropReason.None;
            }
            if (current.Previous is { Challenge: { } earlier } previous && view.Header.SequenceEqual(earlier))
            {
                // A copy of the challenge the session before this one answered: the remote, which drops a challenge once
                // a handshake answers it, took that handshake after the copy left, and holds its keys. The session in
                // use came back from being set aside (a late answer under a given-up handshake's keys, see
                // HandleMessagePacket): it is out of date at the remote. The answered one goes back in use; a handshake
                // answering the copy would only reach a remote with no challenge, and its keys would replace the ones
                // the remote answers under (simulated crawls: nodes that answered once and never again).
                current.Previous = null;
                previous.Previous = current;
                _sessions[req.Address] = previous;
                SendRequestPacket(req, countAttempt: false);
                return DropReason.None;
            }
        }
        ulong remoteKnowsSeq = BinaryPrimitives.ReadUInt64BigEndian(view.AuthData[16..]);
        ReadOnlySpan<byte> challengeData = view.Header;
        // discv5-theory.md "Handshake Steps": ephemeral key, ECDH with the remote's static key, key derivation,
        // id-nonce signature
        Span<byte> ephemeralKey = stackalloc byte[32];
        Secp256k1Ops.GeneratePrivateKey(_ctx.Random, ephemeralKey);
        Span<byte> ephemeralParsed = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(ephemeralKey, ephemeralParsed);
        Span<byte> ephemeralPublic = stackalloc byte[33];
        Secp256k1Ops.SerializeCompressed(ephemeralParsed, ephemeralPublic);
        Span<byte> sharedSecret = stackalloc byte[33];
        if (!Secp256k1Ops.TryEcdh(req.Node.ParsedPublicKey, ephemeralKey, sharedSecret)) return DropReason.WhoAreYouBadKey;
        Span<byte> initiatorKey = stackalloc byte[16];
        Span<byte> recipientKey = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(sharedSecret, challengeData, _ctx.LocalId, req.Address.Id, initiatorKey, recipientKey);
        Span<byte> idSignature = stackalloc byte[64];
        if (!HandshakeCrypto.TrySignIdNonce(_ctx.PrivateKey, challengeData, ephemeralPublic, req.Address.Id, idSignature)) return DropReason.WhoAreYouBadKey;
        var session = new Session(initiatorKey, recipientKey, req.Node) { LastUsedTicks = Time.GetTimestamp(), Challenge = challengeData.ToArray() };
        StoreSession(req.Address, session);
        var local = _ctx.LocalEnr;
        // The spec sends the record when enr-seq < ours. We send it whenever enr-seq is not exactly ours:
        // @chainsafe/discv5 11 left-aligns enr-seq in the 8-byte field (encodeWhoAreYouAuthdata), so any seq it
        // knows reads as a huge number, and a peer that cached our record from an earlier run (same id, other port)
        // would never get the new one and drop the session as unverified.
        ReadOnlySpan<byte> record = remoteKnowsSeq != local.Seq ? local.Raw.Span : default;
        Span<byte> maskingIv = stackalloc byte[16];
        _ctx.Random.Fill(maskingIv);
        Span<byte> messageNonce = stackalloc byte[12];
        session.NextNonce(messageNonce, _ctx.Random);
        int n = PacketCodec.EncodeHandshake(_sendBuffer, req.Address.Id, maskingIv, messageNonce, _ctx.LocalId, idSignature, ephemeralPublic, record, session.WriteKey, req.Plaintext);
        var key = Nonce96.From(messageNonce);
        _byNonce[key] = (req, true, null);
        req.Nonces.Add(key);
        req.Handshake = (session.Challenge, session);
        req.HandshakePacket = _sendBuffer.AsSpan(0, n).ToArray();
        req.HandshakeResent = false;
        Send(_sendBuffer.AsSpan(0, n), from);
        Interlocked.Increment(ref Counters.HandshakesOut);
        Discv5Metrics.Handshakes.Add(1, new KeyValuePair<string, object?>("direction", "outbound"));
        // the requests that waited for this handshake follow it, under the new session
        if (_firstContacts.Remove(req.Address, out var first))
            foreach (var w in first.Waiting)
                if (w.State == RequestState.Live) SendRequestPacket(w, countAttempt: false);
        return DropReason.None;
    }

    /// <summary>A handshake answering our WHOAREYOU: check the remote's record and id signature, derive the session.</summary>
    private DropReason HandleHandshake(PacketView view, IPEndPoint from)
    {
        var auth = new HandshakeAuthData(view.AuthData);
        var addr = new NodeAddress(auth.SourceId, from);
        if (!_challenges.ContainsKey(addr)) return DropReason.HandshakeNoChallenge;
        // the challenge stays for a retry: a limited remote answers it again within ChallengeTimeout
        if (!_ctx.UnsolicitedLimiter.Allow(from.Address, Time.GetTimestamp())) return DropReason.UnsolicitedRateLimited;
        RemoveChallenge(addr, out var ch);
        Enr? remote;
        if (!auth.Record.IsEmpty)
        {
            if (!_ctx.Records.TryDecode(auth.Record, out remote)) return DropReason.HandshakeBadRecord;
            // discv5-theory.md "Handshake Steps": the record must belong to the sender (its node id is the packet's
            // src-id) before we use its key or store it; otherwise anyone could plant a record for another node
            if (remote!.NodeId != auth.SourceId) return DropReason.HandshakeRecordWrongId;
            if (ch!.Known is { } k && k.Seq > remote.Seq) remote = k;
        }
        else
        {
            remote = ch!.Known ?? _ctx.Service.KnownRecord(auth.SourceId);
            if (remote is null) return DropReason.HandshakeUnknownNode;
        }
        if (!HandshakeCrypto.VerifyIdNonce(remote.ParsedPublicKey, ch.ChallengeData, auth.EphemeralPublicKey, _ctx.LocalId, auth.IdSignature))
            return DropReason.HandshakeBadSignature;
        Span<byte> ephemeralParsed = stackalloc byte[64];
        if (!Secp256k1Ops.TryParsePublicKey(auth.EphemeralPublicKey, ephemeralParsed)) return DropReason.HandshakeBadEphemeralKey;
        Span<byte> sharedSecret = stackalloc byte[33];
        if (!Secp256k1Ops.TryEcdh(ephemeralParsed, _ctx.PrivateKey, sharedSecret)) return DropReason.HandshakeBadEphemeralKey;
        Span<byte> initiatorKey = stackalloc byte[16];
        Span<byte> recipientKey = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(sharedSecret, ch.ChallengeData, auth.SourceId, _ctx.LocalId, initiatorKey, recipientKey);
        var session = new Session(recipientKey, initiatorKey, remote) { LastUsedTicks = Time.GetTimestamp() };
        var plaintext = _plainBuffer.AsSpan(0, view.Message.Length - PacketCodec.GcmTagSize);
        if (!PacketCodec.TryDecrypt(session.ReadKey, view.Nonce, view.Message, view.Header, plaintext))
        {
            session.Dispose();
            return DropReason.HandshakeDecryptFailed;
        }
        StoreSession(addr, session);
        _ctx.Service.Remember(remote);
        Interlocked.Increment(ref Counters.HandshakesIn);
        Discv5Metrics.Handshakes.Add(1, new KeyValuePair<string, object?>("direction", "inbound"));
        // only a record whose UDP endpoint is where the packet came from goes into the table (see NodeService.Contacted)
        if (from.Equals(_ctx.Socket.EndpointFor(remote))) _ctx.Service.Contacted(remote);
        ReportInbound(addr, session, handshake: true);
        return HandleMessage(addr, session, plaintext, limited: true);
    }
}
