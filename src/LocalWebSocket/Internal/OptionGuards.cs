using System.Runtime.CompilerServices;

namespace LocalWebSocket.Internal;

/// <summary>Checks shared by the options classes' setters.</summary>
internal static class OptionGuards
{
    public static TimeSpan PositiveTime(TimeSpan value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value <= TimeSpan.Zero || value == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be a positive, finite time.");
        }

        return value;
    }

    /// <summary>For intervals where zero or <see cref="Timeout.InfiniteTimeSpan"/> means "off".</summary>
    public static TimeSpan IntervalOrOff(TimeSpan value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be zero, positive, or Timeout.InfiniteTimeSpan.");
        }

        return value;
    }

    /// <summary>For time-outs where <see cref="Timeout.InfiniteTimeSpan"/> means "never".</summary>
    public static TimeSpan PositiveTimeOrInfinite(TimeSpan value, [CallerArgumentExpression(nameof(value))] string? name = null) =>
        value == Timeout.InfiniteTimeSpan ? value : PositiveTime(value, name);

    /// <summary>Whether <paramref name="value"/> is an HTTP token (RFC 9110 tchar+): header names, subprotocols.</summary>
    public static bool IsHttpToken(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));
}
