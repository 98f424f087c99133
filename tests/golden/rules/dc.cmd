REM Inbound firewall rules for 192.0.2.10 drafted by svcscope 0.1.0 from observed traffic.
REM Traffic: fixtures/domain.pcapng (2024-03-04T09:00:00.406533Z to 2024-03-04T09:09:20.206232Z).
REM REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
REM did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
REM these services come from warns itself that its port list is not a firewall configuration.

REM DHCP Server — service not determined (no evidence of which was used); candidates: DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS)
netsh advfirewall firewall add rule name="svcscope: DHCP Server (UDP 67)" dir=in action=allow protocol=UDP localport=67 description="DHCP Server UDP 67 for DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS); seen 1 flow from 1 client, 2024-03-04T09:00:00.406533Z to 2024-03-04T09:00:00.424267Z"

REM DNS Server — from evidence: dns-authoritative dc01.corp.example, dns-authoritative _ldap._tcp.dc._msdcs.corp.example, dns-authoritative fs01.corp.example, dns-authoritative intranet.corp.example, dns-authoritative portal.corp.example, dns-authoritative sql01.corp.example, dns-authoritative ts01.corp.example, dns-authoritative www.corp.example
netsh advfirewall firewall add rule name="svcscope: DNS (TCP 53)" dir=in action=allow protocol=TCP localport=53 description="DNS TCP 53 for DNS Server (seen in the payload); seen 71 flows from 19 clients, 2024-03-04T09:00:03.429822Z to 2024-03-04T09:09:15.855348Z"
netsh advfirewall firewall add rule name="svcscope: DNS (UDP 53)" dir=in action=allow protocol=UDP localport=53 description="DNS UDP 53 for DNS Server (seen in the payload); seen 71 flows from 19 clients, 2024-03-04T09:00:03.429822Z to 2024-03-04T09:09:15.855348Z"

REM Distributed File System — from evidence: dfs-referral \corp.example\SYSVOL
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 description="SMB TCP 445 for Distributed File System (seen in the payload); seen 18 flows from 18 clients, 2024-03-04T09:00:03.493098Z to 2024-03-04T09:05:30.464090Z"

REM Kerberos Key Distribution Center — from evidence: kerberos AS-REQ, kerberos TGS-REQ
netsh advfirewall firewall add rule name="svcscope: Kerberos (TCP 88)" dir=in action=allow protocol=TCP localport=88 description="Kerberos TCP 88 for Kerberos Key Distribution Center (seen in the payload); seen 69 flows from 18 clients, 2024-03-04T09:00:03.438586Z to 2024-03-04T09:08:39.139081Z"
netsh advfirewall firewall add rule name="svcscope: Kerberos (UDP 88)" dir=in action=allow protocol=UDP localport=88 description="Kerberos UDP 88 for Kerberos Key Distribution Center (seen in the payload); seen 69 flows from 18 clients, 2024-03-04T09:00:03.438586Z to 2024-03-04T09:08:39.139081Z"

REM Local Security Authority — from evidence: ldap bindRequest, kerberos-spn ldap/dc01.corp.example, ldap searchRequest, pipe-bind lsarpc, pipe-bind samr, lsarpc pipe, samr pipe, pipe-bind drsuapi
netsh advfirewall firewall add rule name="svcscope: Global Catalog Server (TCP 3268)" dir=in action=allow protocol=TCP localport=3268 description="Global Catalog Server TCP 3268 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z"
netsh advfirewall firewall add rule name="svcscope: LDAP Server (TCP 389)" dir=in action=allow protocol=TCP localport=389 description="LDAP Server TCP 389 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z"
netsh advfirewall firewall add rule name="svcscope: LDAP Server (UDP 389)" dir=in action=allow protocol=UDP localport=389 description="LDAP Server UDP 389 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z"
netsh advfirewall firewall add rule name="svcscope: RPC drsuapi (MS-DRSR) (dynamic RPC ports)" dir=in action=allow protocol=TCP localport=RPC description="RPC drsuapi (MS-DRSR) dynamic RPC ports for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z"
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 description="SMB TCP 445 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z"

REM Net Logon — from evidence: endpoint-mapper netlogon, epm-request netlogon, ldap-ping request, pipe-bind netlogon, rpc-bind netlogon, netlogon pipe, NETLOGON share, SYSVOL share
netsh advfirewall firewall add rule name="svcscope: LDAP Server (UDP 389)" dir=in action=allow protocol=UDP localport=389 description="LDAP Server UDP 389 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z"
netsh advfirewall firewall add rule name="svcscope: RPC (TCP 135)" dir=in action=allow protocol=TCP localport=RPC-EPMap description="RPC TCP 135 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z"
netsh advfirewall firewall add rule name="svcscope: RPC netlogon (MS-NRPC) (dynamic RPC ports)" dir=in action=allow protocol=TCP localport=RPC description="RPC netlogon (MS-NRPC) dynamic RPC ports for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z"
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 description="SMB TCP 445 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z"

REM Remote Procedure Call (RPC) — from evidence: rpc-bind epmapper
netsh advfirewall firewall add rule name="svcscope: RPC (TCP 135)" dir=in action=allow protocol=TCP localport=RPC-EPMap description="RPC TCP 135 for Remote Procedure Call (RPC) (seen in the payload); seen 18 flows from 18 clients, 2024-03-04T09:00:03.553098Z to 2024-03-04T09:05:28.474898Z"

REM Server — from evidence: kerberos-spn cifs/dc01.corp.example, kerberos-ticket cifs/dc01.corp.example, smb 3.1.1, IPC$ share, NETLOGON share, SYSVOL share, smb SMB 2/3
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 description="SMB TCP 445 for Server (seen in the payload); seen 19 flows from 18 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:05:30.464090Z"

REM Windows Time
netsh advfirewall firewall add rule name="svcscope: NTP (UDP 123)" dir=in action=allow protocol=UDP localport=123 description="NTP UDP 123 for Windows Time; seen 18 flows from 18 clients, 2024-03-04T09:00:05.998535Z to 2024-03-04T09:05:30.906825Z"
