namespace ClP2p.Storage;

/// <summary>
/// An estimate of a population's size from several overlapping samples (capture–recapture), with its standard error and
/// a confidence interval. <see cref="Valid"/> is false when the samples carry no information about the unseen part
/// (no overlap, a model that does not converge); <see cref="Note"/> then says why.
/// </summary>
/// <param name="Method">"chapman" (two samples) or "log_linear_independence" (three or more).</param>
/// <param name="Observed">Distinct individuals seen by at least one sample.</param>
/// <param name="Estimate">Estimated population size (observed plus estimated unseen); null when the model has none.</param>
/// <param name="StandardError">Square root of the estimator's variance.</param>
/// <param name="Low">Lower end of the interval (never below <paramref name="Observed"/>).</param>
/// <param name="High">Upper end of the interval.</param>
/// <param name="Confidence">Nominal coverage of the interval (0.95).</param>
/// <param name="Valid">False when the estimate says nothing (see <paramref name="Note"/>).</param>
/// <param name="Note">Why the estimate is not valid or what limits it; null when nothing does.</param>
public sealed record PopulationEstimate(string Method, long Observed, double? Estimate, double? StandardError, double? Low, double? High,
    double Confidence, bool Valid, string? Note);

/// <summary>
/// Capture–recapture estimators of a closed population seen by K samples (here: vantage points). A capture history is
/// a bit mask of the samples that saw an individual (bit j = sample j).
/// <list type="bullet">
/// <item>K = 2: Chapman's bias-corrected Lincoln–Petersen estimator N = (n1+1)(n2+1)/(m+1) − 1 with Seber's variance
/// (n1+1)(n2+1)(n1−m)(n2−m) / ((m+1)²(m+2)) (Seber 1982, §3.1.1).</item>
/// <item>K ≥ 3: the Poisson log-linear model of independent samples (Fienberg 1972; model Mt), log E[n_ω] = β0 + Σ βj ωj,
/// fitted by maximum likelihood to the 2^K − 1 observable histories; the unseen cell is exp(β0) and
/// Var(N) = f0 + f0² · [I⁻¹]00 (Cormack 1989). For K = 2 the same model gives Lincoln–Petersen.</item>
/// </list>
/// Both intervals are Chao's (1987) log-normal interval on the unseen count f0 = N − r: [r + f0/C, r + f0·C] with
/// C = exp(z·sqrt(ln(1 + Var/f0²))), which never falls below the r individuals observed. Assumptions (not checked here):
/// a closed population over the window, samples independent of each other, and every individual equally likely to be
/// seen by a given sample (no heterogeneous catchability). Positive dependence between samples (vantage points that
/// share bootnodes) and heterogeneity (nodes that few peers know) both make the estimate too low.
/// </summary>
public static class CaptureRecapture
{
    /// <summary>The two-sided 95 % normal quantile.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>Most samples the log-linear model takes (2^K − 1 cells).</summary>
    public const int MaxSamples = 12;

    private const int MaxIterations = 200;

    /// <summary>
    /// The estimate for <paramref name="samples"/> samples from the counts of each observed capture history (mask → count;
    /// masks absent count 0). Chapman for two samples, the log-linear independence model for three or more; null for fewer
    /// than two samples (no recapture) or more than <see cref="MaxSamples"/>.
    /// </summary>
    public static PopulationEstimate? Estimate(int samples, IReadOnlyDictionary<int, long> histories)
    {
        ArgumentNullException.ThrowIfNull(histories);
        if (samples < 2 || samples > MaxSamples) return null;
        if (samples == 2)
        {
            long n10 = histories.GetValueOrDefault(1), n01 = histories.GetValueOrDefault(2), n11 = histories.GetValueOrDefault(3);
            return Chapman(n10 + n11, n01 + n11, n11);
        }
        return LogLinear(samples, histories);
    }

    /// <summary>Chapman's estimator for two samples of sizes <paramref name="n1"/>, <paramref name="n2"/> with <paramref name="m"/> in both.</summary>
    public static PopulationEstimate Chapman(long n1, long n2, long m)
    {
        if (n1 < 0 || n2 < 0 || m < 0 || m > n1 || m > n2) throw new ArgumentOutOfRangeException(nameof(m), "0 <= m <= min(n1, n2) is required");
        long observed = n1 + n2 - m;
        double a = n1 + 1.0, b = n2 + 1.0, c = m + 1.0;
        double estimate = a * b / c - 1;
        double variance = a * b * (n1 - m) * (n2 - m) / (c * c * (m + 2.0));
        (double low, double high) = LogNormalInterval(observed, estimate, variance);
        string? note = m == 0
            ? "no node was seen by both vantages: the estimate carries no information about the unseen nodes"
            : m < 7 ? "fewer than 7 nodes seen by both vantages: Chapman's estimator is biased (Seber 1982 asks for m >= 7)" : null;
        return new PopulationEstimate("chapman", observed, estimate, Math.Sqrt(variance), low, high, 0.95, m > 0, note);
    }

    /// <summary>The log-linear independence model (Mt) for <paramref name="samples"/> samples; see the type's summary.</summary>
    public static PopulationEstimate LogLinear(int samples, IReadOnlyDictionary<int, long> histories)
    {
        ArgumentNullException.ThrowIfNull(histories);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(samples, MaxSamples);
        int cells = (1 << samples) - 1;
        int p = samples + 1;
        var y = new double[cells];
        long observed = 0;
        for (int mask = 1; mask <= cells; mask++)
        {
            long n = histories.GetValueOrDefault(mask);
            if (n < 0) throw new ArgumentOutOfRangeException(nameof(histories), "counts are not negative");
            y[mask - 1] = n;
            observed += n;
        }
        foreach (int mask in histories.Keys)
            if (mask < 1 || mask > cells) throw new ArgumentOutOfRangeException(nameof(histories), $"history {mask} is not a mask of {samples} samples");

        const string method = "log_linear_independence";
        for (int j = 0; j < samples; j++)
        {
            long seenByJ = 0, seenByJAndAnother = 0;
            for (int mask = 1; mask <= cells; mask++)
            {
                if ((mask & (1 << j)) == 0) continue;
                seenByJ += (long)y[mask - 1];
                if (mask != 1 << j) seenByJAndAnother += (long)y[mask - 1];
            }
            if (seenByJAndAnother == 0)
                return Invalid(method, observed, seenByJ == 0 ? $"sample {j} saw nothing" : $"no node of sample {j} was seen by another sample: no recapture");
        }

        // Newton–Raphson on the Poisson log-likelihood; design row of history ω is (1, ω0, ..., ωK-1).
        var beta = new double[p];
        beta[0] = Math.Log(Math.Max(observed, 1) / (double)cells);
        double[,] info = new double[p, p];
        bool converged = false;
        for (int iteration = 0; iteration < MaxIterations && !converged; iteration++)
        {
            var score = new double[p];
            Array.Clear(info);
            for (int mask = 1; mask <= cells; mask++)
            {
                double eta = beta[0];
                for (int j = 0; j < samples; j++) if ((mask & (1 << j)) != 0) eta += beta[j + 1];
                double mu = Math.Exp(eta);
                double r = y[mask - 1] - mu;
                for (int a = 0; a < p; a++)
                {
                    if (!In(mask, a)) continue;
                    score[a] += r;
                    for (int b = 0; b < p; b++) if (In(mask, b)) info[a, b] += mu;
                }
            }
            double[,]? inverse = Invert(info);
            if (inverse is null) return Invalid(method, observed, "the model's information matrix is singular");
            double step = 0;
            for (int a = 0; a < p; a++)
            {
                double d = 0;
                for (int b = 0; b < p; b++) d += inverse[a, b] * score[b];
                beta[a] += d;
                step = Math.Max(step, Math.Abs(d));
            }
            if (beta.Any(v => double.IsNaN(v) || Math.Abs(v) > 60)) return Invalid(method, observed, "the model does not converge (the samples barely overlap)");
            converged = step < 1e-10;
        }
        if (!converged) return Invalid(method, observed, "the model did not converge");
        double[,] cov = Invert(info)!;
        double f0 = Math.Exp(beta[0]);
        double estimate = observed + f0;
        double variance = f0 + f0 * f0 * cov[0, 0];
        (double low, double high) = LogNormalInterval(observed, estimate, variance);
        return new PopulationEstimate(method, observed, estimate, Math.Sqrt(variance), low, high, 0.95, true, null);

        static bool In(int mask, int parameter) => parameter == 0 || (mask & (1 << (parameter - 1))) != 0;
    }

    /// <summary>Chao's (1987) log-normal 95 % interval for a population of which <paramref name="observed"/> were seen.</summary>
    public static (double Low, double High) LogNormalInterval(long observed, double estimate, double variance)
    {
        double f0 = estimate - observed;
        if (f0 <= 0 || variance <= 0) return (observed, Math.Max(observed, estimate));
        double c = Math.Exp(Z95 * Math.Sqrt(Math.Log(1 + variance / (f0 * f0))));
        return (observed + f0 / c, observed + f0 * c);
    }

    private static PopulationEstimate Invalid(string method, long observed, string note) =>
        new(method, observed, null, null, null, null, 0.95, false, note);

    /// <summary>Gauss–Jordan inverse with partial pivoting; null when singular.</summary>
    private static double[,]? Invert(double[,] m)
    {
        int n = m.GetLength(0);
        var a = new double[n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) a[i, j] = m[i, j];
            a[i, n + i] = 1;
        }
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < 1e-300) return null;
            if (pivot != col)
                for (int j = 0; j < 2 * n; j++) (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j]);
            double d = a[col, col];
            for (int j = 0; j < 2 * n; j++) a[col, j] /= d;
            for (int r = 0; r < n; r++)
            {
                if (r == col || a[r, col] == 0) continue;
                double f = a[r, col];
                for (int j = 0; j < 2 * n; j++) a[r, j] -= f * a[col, j];
            }
        }
        var inv = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) inv[i, j] = a[i, n + j];
        return inv;
    }
}
