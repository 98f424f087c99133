REM Inbound firewall rules for 192.0.2.1 drafted by svcscope 0.1.0 from observed traffic.
REM Traffic: fixtures/domain.pcapng (2024-03-04T09:02:00.000000Z to 2024-03-04T09:07:40.734299Z).
REM REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
REM did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
REM these services come from warns itself that its port list is not a firewall configuration.

REM Local Security Authority
netsh advfirewall firewall add rule name="svcscope: IPSec ISAKMP (UDP 500)" dir=in action=allow protocol=UDP localport=500 remoteip=203.0.113.60 description="IPSec ISAKMP UDP 500 for Local Security Authority; seen 1 flow from 1 client, 2024-03-04T09:05:40.000000Z to 2024-03-04T09:05:40.031000Z"
netsh advfirewall firewall add rule name="svcscope: NAT-T (UDP 4500)" dir=in action=allow protocol=UDP localport=4500 remoteip=203.0.113.60 description="NAT-T UDP 4500 for Local Security Authority; seen 1 flow from 1 client, 2024-03-04T09:05:40.051000Z to 2024-03-04T09:07:40.734299Z"

REM Routing and Remote Access
netsh advfirewall firewall add rule name="svcscope: GRE (IP protocol 47)" dir=in action=allow protocol=47 remoteip=203.0.113.50 description="GRE (IP protocol 47) for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:02:01.867397Z to 2024-03-04T09:04:30.571108Z"
netsh advfirewall firewall add rule name="svcscope: IPSec ESP (IP protocol 50)" dir=in action=allow protocol=50 remoteip=203.0.113.60 description="IPSec ESP (IP protocol 50) for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:05:40.421913Z to 2024-03-04T09:07:40.603299Z"
netsh advfirewall firewall add rule name="svcscope: PPTP (TCP 1723)" dir=in action=allow protocol=TCP localport=1723 remoteip=203.0.113.50 description="PPTP TCP 1723 for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:02:00.000000Z to 2024-03-04T09:04:30.752097Z"
