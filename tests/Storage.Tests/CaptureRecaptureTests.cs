namespace ClP2p.Storage.Tests;

public class CaptureRecaptureTests
{
    [Fact]
    public void Chapman_matches_the_closed_form_and_its_interval_holds_the_estimate()
    {
        // n1 = 20, n2 = 20, m = 10: N = 21·21/11 − 1, Var = 21·21·10·10 / (11²·12)
        PopulationEstimate e = CaptureRecapture.Chapman(20, 20, 10);
        Assert.Equal("chapman", e.Method);
        Assert.Equal(30, e.Observed);
        Assert.Equal(21.0 * 21 / 11 - 1, e.Estimate!.Value, 9);
        Assert.Equal(Math.Sqrt(21.0 * 21 * 10 * 10 / (121 * 12)), e.StandardError!.Value, 9);
        Assert.True(e.Valid);
        Assert.Null(e.Note);
        Assert.InRange(e.Estimate.Value, e.Low!.Value, e.High!.Value);
        Assert.True(e.Low >= e.Observed, "the log-normal interval never falls below the nodes observed");
    }

    [Fact]
    public void Chapman_of_two_complete_samples_is_exact()
    {
        PopulationEstimate e = CaptureRecapture.Chapman(50, 50, 50);
        Assert.Equal(50, e.Estimate!.Value, 9);
        Assert.Equal(0, e.StandardError!.Value, 9);
        Assert.Equal((50.0, 50.0), (e.Low!.Value, e.High!.Value));
    }

    [Fact]
    public void Chapman_without_overlap_is_not_valid_and_says_why()
    {
        PopulationEstimate e = CaptureRecapture.Chapman(10, 12, 0);
        Assert.False(e.Valid);
        Assert.Contains("no node was seen by both", e.Note, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => CaptureRecapture.Chapman(5, 5, 6));
    }

    [Fact]
    public void Log_linear_model_of_two_samples_is_lincoln_petersen_with_its_variance()
    {
        // n10 = 30, n01 = 20, n11 = 40: N = n1·n2/m = 70·60/40; Var = n1·n2·(n1−m)(n2−m)/m³
        var h = new Dictionary<int, long> { [1] = 30, [2] = 20, [3] = 40 };
        PopulationEstimate e = CaptureRecapture.LogLinear(2, h);
        Assert.Equal(70.0 * 60 / 40, e.Estimate!.Value, 6);
        Assert.Equal(Math.Sqrt(70.0 * 60 * 30 * 20 / (40.0 * 40 * 40)), e.StandardError!.Value, 6);
    }

    [Fact]
    public void Log_linear_model_of_three_samples_solves_darrochs_equation()
    {
        // Model Mt's maximum-likelihood N satisfies Π (1 − n_j/N) = 1 − r/N (Darroch 1958).
        var h = new Dictionary<int, long> { [1] = 25, [2] = 18, [4] = 30, [3] = 9, [5] = 12, [6] = 7, [7] = 4 };
        PopulationEstimate e = CaptureRecapture.Estimate(3, h)!;
        Assert.Equal("log_linear_independence", e.Method);
        Assert.True(e.Valid);
        double n = e.Estimate!.Value;
        long r = h.Values.Sum();
        double product = 1;
        for (int j = 0; j < 3; j++) product *= 1 - h.Where(kv => (kv.Key & (1 << j)) != 0).Sum(kv => kv.Value) / n;
        Assert.Equal(1 - r / n, product, 9);
        Assert.True(n > r);
        Assert.InRange(n, e.Low!.Value, e.High!.Value);
    }

    [Fact]
    public void Log_linear_model_refuses_a_sample_nobody_else_recaptured()
    {
        var h = new Dictionary<int, long> { [1] = 25, [2] = 18, [3] = 9, [4] = 30 };
        PopulationEstimate e = CaptureRecapture.Estimate(3, h)!;
        Assert.False(e.Valid);
        Assert.Null(e.Estimate);
        Assert.Contains("sample 2", e.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void One_sample_has_no_estimate()
    {
        Assert.Null(CaptureRecapture.Estimate(1, new Dictionary<int, long> { [1] = 10 }));
    }

    [Fact]
    public void Chapman_interval_covers_the_true_size_in_most_simulated_independent_samples()
    {
        // 2,000 populations of 400 nodes, each seen independently by two vantages with probabilities 0.3 and 0.5: the
        // nominal 95 % interval must cover 400 in at least 92 % of them (fixed seed: the same draws every run).
        var random = new Random(20261203);
        int covered = 0, runs = 2000;
        for (int run = 0; run < runs; run++)
        {
            long n1 = 0, n2 = 0, m = 0;
            for (int i = 0; i < 400; i++)
            {
                bool a = random.NextDouble() < 0.3, b = random.NextDouble() < 0.5;
                if (a) n1++;
                if (b) n2++;
                if (a && b) m++;
            }
            PopulationEstimate e = CaptureRecapture.Chapman(n1, n2, m);
            if (e.Low <= 400 && 400 <= e.High) covered++;
        }
        Assert.True(covered >= runs * 0.92, $"covered {covered} of {runs}");
    }
}
