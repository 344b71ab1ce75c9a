namespace LocalWebSocket.Tests.Support;

/// <summary>
/// Tests whose assertion is a measured rate (delivery under a flood): they run alone, after the parallel
/// tests, so that what they measure is the library and not the other tests sharing the two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasurementCollection
{
    public const string Name = "measurement";
}
