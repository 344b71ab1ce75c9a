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

    /// <summary>The value, when it is at least <paramref name="minimum"/>.</summary>
    public static T AtLeast<T>(T value, T minimum, [CallerArgumentExpression(nameof(value))] string? name = null)
        where T : IComparable<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, minimum, name);
        return value;
    }

    /// <summary>The value, when it is from <paramref name="minimum"/> to <paramref name="maximum"/>.</summary>
    public static T InRange<T>(T value, T minimum, T maximum, [CallerArgumentExpression(nameof(value))] string? name = null)
        where T : IComparable<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, minimum, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, maximum, name);
        return value;
    }

    /// <summary>The value, when it is a defined member of its enum.</summary>
    public static T Defined<T>(T value, [CallerArgumentExpression(nameof(value))] string? name = null)
        where T : struct, Enum =>
        Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"Unknown {typeof(T).Name}.");

    /// <summary>Whether <paramref name="value"/> is an HTTP token (RFC 9110 tchar+): header names, subprotocols.</summary>
    public static bool IsHttpToken(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));
}
