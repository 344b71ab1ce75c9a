using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace LocalWebSocket.Hosting;

/// <summary>What the configuration binder cannot do for our options: JSON details, and binding all but them.</summary>
internal static class ConfigurationJson
{
    /// <summary>Binds <paramref name="configuration"/> to <paramref name="options"/>, leaving <paramref name="excluded"/> out (when named); unknown keys are errors.</summary>
    public static void BindAllBut(IConfiguration configuration, object options, string? excluded) =>
        (excluded is null ? configuration : new Filtered(configuration, key => !SameKey(key, excluded))).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);

    /// <summary>
    /// The first top-level key that fails to bind on its own to a fresh <typeparamref name="TOptions"/>, with its
    /// error: the options' setters validate, but their errors cannot know which configuration key they came from.
    /// </summary>
    public static (string Key, Exception Error)? FirstFailingKey<TOptions>(IConfiguration configuration, string? excluded)
        where TOptions : new()
    {
        foreach (var child in configuration.GetChildren())
        {
            if (excluded is not null && SameKey(child.Key, excluded))
            {
                continue;
            }

            try
            {
                new Filtered(configuration, key => SameKey(key, child.Key)).Bind(new TOptions(), binder => binder.ErrorOnUnknownConfiguration = true);
            }
            catch (Exception exception)
            {
                return (child.Key, exception);
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="key"/> (a path relative to the section) is <paramref name="top"/> or under it.</summary>
    private static bool SameKey(string key, string top) =>
        string.Equals(key, top, StringComparison.OrdinalIgnoreCase) || key.StartsWith(top + ":", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A section as a JSON object, or null when it is empty. Configuration keeps only strings: <c>true</c>,
    /// <c>false</c> and numbers become JSON booleans and numbers again, a section keyed 0, 1, 2... an array.
    /// </summary>
    public static JsonObject? Object(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        return children.Count == 0 ? null : (JsonObject)Node(section, children)!;
    }

    private static JsonNode? Node(IConfigurationSection section, List<IConfigurationSection> children)
    {
        if (children.Count == 0)
        {
            return Scalar(section.Value);
        }

        if (children.Select(child => child.Key).SequenceEqual(Enumerable.Range(0, children.Count).Select(i => i.ToString(CultureInfo.InvariantCulture))))
        {
            return new JsonArray([.. children.Select(child => Node(child, [.. child.GetChildren()]))]);
        }

        var node = new JsonObject();
        foreach (var child in children)
        {
            node[child.Key] = Node(child, [.. child.GetChildren()]);
        }

        return node;
    }

    private static JsonNode? Scalar(string? value) => value switch
    {
        null => null,
        "true" => JsonValue.Create(true),
        "false" => JsonValue.Create(false),
        _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => JsonValue.Create(integer),
        _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) => JsonValue.Create(number),
        _ => JsonValue.Create(value),
    };

    /// <summary>A configuration with only the top-level keys <paramref name="keep"/> selects, for the binder.</summary>
    private sealed class Filtered(IConfiguration inner, Func<string, bool> keep) : IConfiguration
    {
        public string? this[string key]
        {
            get => keep(key) ? inner[key] : null;
            set => throw new NotSupportedException();
        }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Where(child => keep(child.Key));

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => keep(key) ? inner.GetSection(key) : new Empty(key);
    }

    private sealed class Empty(string key) : IConfigurationSection
    {
        public string Key => key;

        public string Path => key;

        public string? Value { get => null; set => throw new NotSupportedException(); }

        public string? this[string name] { get => null; set => throw new NotSupportedException(); }

        public IEnumerable<IConfigurationSection> GetChildren() => [];

        public IChangeToken GetReloadToken() => NullChangeToken.Instance;

        public IConfigurationSection GetSection(string name) => new Empty(name);
    }

    private sealed class NullChangeToken : IChangeToken
    {
        public static readonly NullChangeToken Instance = new();

        public bool HasChanged => false;

        public bool ActiveChangeCallbacks => false;

        public IDisposable RegisterChangeCallback(Action<object?> callback, object? state) => EmptyDisposable.Instance;
    }

    private sealed class EmptyDisposable : IDisposable
    {
        public static readonly EmptyDisposable Instance = new();

        public void Dispose()
        {
        }
    }
}
