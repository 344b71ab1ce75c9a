# An independent mDNS browser (python3-zeroconf) for our _localws._tcp service.
# usage: /usr/bin/python3 zc_browse.py INTERFACE_IP SECONDS [PORT]
# Prints "FOUND name addresses port properties" for each service resolved (only PORT's, when given)
# and exits 0 after the first, or 1 when none came within SECONDS.
import sys, time
from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

ip, seconds = sys.argv[1], float(sys.argv[2])
want_port = int(sys.argv[3]) if len(sys.argv) > 3 else None
found = []

def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Added:
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info and (want_port is None or info.port == want_port):
            props = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
            found.append(name)
            print("FOUND", name, info.parsed_addresses(), info.port, props, flush=True)

zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
ServiceBrowser(zc, "_localws._tcp.local.", handlers=[on_change])
deadline = time.time() + seconds
while time.time() < deadline and not found:
    time.sleep(0.05)
zc.close()
sys.exit(0 if found else 1)
