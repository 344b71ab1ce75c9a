# An independent mDNS advertiser (python3-zeroconf) of a _localws._tcp service.
# usage: /usr/bin/python3 zc_register.py INTERFACE_IP PORT SECONDS [INSTANCE]
# Registers "INSTANCE._localws._tcp.local." (default zeroconf-peer) at INTERFACE_IP:PORT with TXT path=/ws,
# v=1, name=zeroconf peer, prints "registered NAME" (zeroconf renames INSTANCE to INSTANCE-2... when the name is
# taken on the link), waits SECONDS, unregisters (a goodbye), prints "unregistered".
import socket, sys, time
from zeroconf import IPVersion, ServiceInfo, Zeroconf

ip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
instance = sys.argv[4] if len(sys.argv) > 4 else "zeroconf-peer"
info = ServiceInfo("_localws._tcp.local.", f"{instance}._localws._tcp.local.",
                   addresses=[socket.inet_aton(ip)], port=port,
                   properties={"path": "/ws", "v": "1", "name": "zeroconf peer"}, server=f"{instance}.local.")
zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
zc.register_service(info, allow_name_change=True)
print("registered", info.name, flush=True)
time.sleep(seconds)
zc.unregister_service(info)
zc.close()
print("unregistered", flush=True)
