using System.Diagnostics;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>The timing wheel that keeps step timers' deadlines on the system clock.</summary>
public sealed class StepDeadlinesTests
{
    private static async Task FiredAsync(StepTimer step)
    {
        var fired = new TaskCompletionSource();
        using var r = step.Token.Register(() => fired.TrySetResult());
        await fired.Task.WaitAsync(HangGuard);
    }

    [Fact]
    public void A_deadline_fires_at_the_first_tick_after_its_timeout_and_never_before()
    {
        static long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        long now = Ms(5);   // on a whole tick of the wheel
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8, () => now, periodic: false);
        // 40 ms: five turns of this wheel, so its slot comes round four times before it is due
        using var step = new StepTimer(TimeSpan.FromMilliseconds(40), TimeProvider.System, CancellationToken.None, wheel);
        Assert.Equal(1, wheel.Armed);
        for (int ms = 1; ms < 40; ms++)
        {
            now += Ms(1);
            wheel.Tick();
            Assert.False(step.IsCancellationRequested, $"fired {ms} ms in");
        }
        now += Ms(2);   // past the deadline and the tick it falls in
        wheel.Tick();
        Assert.True(step.IsCancellationRequested);
        Assert.Equal(0, wheel.Armed);
        Assert.True(step.Expired.IsCompleted);
    }

    [Fact]
    public void A_restarted_deadline_fires_its_new_timeout_after_the_restart_and_a_fired_one_stays_fired()
    {
        static long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        long now = Ms(5);
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8, () => now, periodic: false);
        using var step = new StepTimer(TimeSpan.FromMilliseconds(10), TimeProvider.System, CancellationToken.None, wheel);
        now += Ms(9);
        wheel.Tick();
        Assert.True(step.TryRestart(TimeSpan.FromMilliseconds(10)));   // 9 ms in: due at 19 ms now
        Assert.Equal(1, wheel.Armed);
        for (int ms = 10; ms < 19; ms++)
        {
            now += Ms(1);
            wheel.Tick();
            Assert.False(step.IsCancellationRequested, $"fired {ms} ms in");
        }
        now += Ms(2);
        wheel.Tick();
        Assert.True(step.IsCancellationRequested);
        Assert.False(step.TryRestart(TimeSpan.FromMilliseconds(10)));
        Assert.Equal(0, wheel.Armed);
        Assert.True(step.IsCancellationRequested);
    }

    [Fact]
    public void A_restarted_deadline_on_another_clock_moves_with_it()
    {
        var time = new FakeTimeProvider();
        using var step = new StepTimer(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(step.TryRestart(TimeSpan.FromSeconds(5)));
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(step.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(step.IsCancellationRequested);
        Assert.False(step.TryRestart(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void A_late_tick_catches_up_on_every_slot_it_skipped()
    {
        static long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        long now = Ms(5);   // on a whole tick of the wheel
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8, () => now, periodic: false);
        var steps = Enumerable.Range(1, 30).Select(ms => new StepTimer(TimeSpan.FromMilliseconds(ms), TimeProvider.System, CancellationToken.None, wheel)).ToList();
        now += Ms(15.5);   // one tick, late by fifteen: the deadlines up to 14 ms have passed, the rest not
        wheel.Tick();
        for (int i = 0; i < steps.Count; i++)
            Assert.Equal(i + 1 <= 14, steps[i].IsCancellationRequested);
        now += Ms(100);
        wheel.Tick();
        Assert.All(steps, s => Assert.True(s.IsCancellationRequested));
        Assert.Equal(0, wheel.Armed);
        foreach (var s in steps) s.Dispose();
    }

    [Fact]
    public async Task The_periodic_timer_fires_an_armed_deadline()
    {
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8);
        using var step = new StepTimer(TimeSpan.FromMilliseconds(5), TimeProvider.System, CancellationToken.None, wheel);
        await FiredAsync(step);
        Assert.Equal(0, wheel.Armed);
    }

    [Fact]
    public void Disposed_deadlines_leave_the_wheel_and_the_others_still_fire()
    {
        // on the wheel's own clock: on the system's, a busy machine let the first deadlines (1 ms) pass while the others
        // were still being armed
        static long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        long now = Ms(5);
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 16, () => now, periodic: false);
        var steps = Enumerable.Range(0, 200).Select(i => new StepTimer(TimeSpan.FromMilliseconds(1 + (i % 37)), TimeProvider.System, CancellationToken.None, wheel)).ToList();
        Assert.Equal(200, wheel.Armed);
        var kept = new List<StepTimer>();
        for (int i = 0; i < steps.Count; i++)
        {
            if (i % 2 == 0) steps[i].Dispose();
            else kept.Add(steps[i]);
        }
        Assert.Equal(100, wheel.Armed);
        for (int ms = 1; ms <= 39; ms++)
        {
            now += Ms(1);
            wheel.Tick();
        }
        Assert.All(kept, s => Assert.True(s.IsCancellationRequested));
        Assert.All(steps.Where((_, i) => i % 2 == 0), s => Assert.False(s.IsCancellationRequested));
        Assert.Equal(0, wheel.Armed);
        foreach (var s in kept) s.Dispose();
    }

    [Fact]
    public void A_deadline_disposed_before_it_is_due_never_cancels_its_token()
    {
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8);
        var step = new StepTimer(TimeSpan.FromHours(1), TimeProvider.System, CancellationToken.None, wheel);
        var token = step.Token;
        step.Dispose();
        Assert.Equal(0, wheel.Armed);
        Assert.False(token.IsCancellationRequested);
    }

    [Fact]
    public async Task Deadlines_firing_while_their_timers_are_disposed_neither_throw_nor_leak()
    {
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 4);
        for (int round = 0; round < 50; round++)
        {
            var steps = Enumerable.Range(0, 100).Select(_ => new StepTimer(TimeSpan.FromMilliseconds(1), TimeProvider.System, CancellationToken.None, wheel)).ToList();
            // dispose on other threads while the wheel fires them: every one is either fired or disarmed
            await Task.WhenAll(steps.Select(s => Task.Run(s.Dispose)));
        }
        Assert.Equal(0, wheel.Armed);
    }

    [Fact]
    public async Task The_callers_token_still_ends_the_step_at_once()
    {
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8);
        using var caller = new CancellationTokenSource();
        using var step = new StepTimer(TimeSpan.FromHours(1), TimeProvider.System, caller.Token, wheel);
        await caller.CancelAsync();
        Assert.True(step.IsCancellationRequested);
        await step.Expired.WaitAsync(HangGuard);
    }

    [Fact]
    public void Other_clocks_keep_their_own_timers()
    {
        var wheel = new StepDeadlines(TimeSpan.FromMilliseconds(1), 8);
        var time = new FakeTimeProvider();
        using var step = new StepTimer(TimeSpan.FromSeconds(2), time, CancellationToken.None, wheel);
        Assert.Equal(0, wheel.Armed);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(step.IsCancellationRequested);
    }
}
