namespace LocalWebSocket.Discovery;

/// <summary>How far a scan is: hosts probed (answered, refused or timed out) out of all, and servers found so far.</summary>
/// <param name="HostsProbed">Hosts whose probe has ended.</param>
/// <param name="HostCount">Hosts the scan probes in all.</param>
/// <param name="ServersFound">Servers found so far.</param>
public readonly record struct ScanProgress(int HostsProbed, int HostCount, int ServersFound);
