# Inbound firewall rules for 192.0.2.10 drafted by svcscope 0.1.0 from observed traffic.
# Traffic: fixtures/domain.pcapng (2024-03-04T09:00:00.406533Z to 2024-03-04T09:09:20.206232Z).
# REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
# did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
# these services come from warns itself that its port list is not a firewall configuration.

# DHCP Server — service not determined (no evidence of which was used); candidates: DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS)
New-NetFirewallRule -DisplayName 'svcscope: DHCP Server (UDP 67)' -Group 'svcscope: DHCP Server (shared by 2 services)' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 67 -Description 'DHCP Server UDP 67 for DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS); seen 1 flow from 1 client, 2024-03-04T09:00:00.406533Z to 2024-03-04T09:00:00.424267Z'

# DNS Server — from evidence: dns-authoritative dc01.corp.example, dns-authoritative _ldap._tcp.dc._msdcs.corp.example, dns-authoritative fs01.corp.example, dns-authoritative intranet.corp.example, dns-authoritative portal.corp.example, dns-authoritative sql01.corp.example, dns-authoritative ts01.corp.example, dns-authoritative www.corp.example
New-NetFirewallRule -DisplayName 'svcscope: DNS (TCP 53)' -Group 'svcscope: DNS Server' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 53 -Description 'DNS TCP 53 for DNS Server (seen in the payload); seen 71 flows from 19 clients, 2024-03-04T09:00:03.429822Z to 2024-03-04T09:09:15.855348Z'
New-NetFirewallRule -DisplayName 'svcscope: DNS (UDP 53)' -Group 'svcscope: DNS Server' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 53 -Description 'DNS UDP 53 for DNS Server (seen in the payload); seen 71 flows from 19 clients, 2024-03-04T09:00:03.429822Z to 2024-03-04T09:09:15.855348Z'

# Distributed File System — from evidence: dfs-referral \corp.example\SYSVOL
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Distributed File System' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Distributed File System (seen in the payload); seen 18 flows from 18 clients, 2024-03-04T09:00:03.493098Z to 2024-03-04T09:05:30.464090Z'

# Kerberos Key Distribution Center — from evidence: kerberos AS-REQ, kerberos TGS-REQ
New-NetFirewallRule -DisplayName 'svcscope: Kerberos (TCP 88)' -Group 'svcscope: Kerberos Key Distribution Center' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 88 -Description 'Kerberos TCP 88 for Kerberos Key Distribution Center (seen in the payload); seen 69 flows from 18 clients, 2024-03-04T09:00:03.438586Z to 2024-03-04T09:08:39.139081Z'
New-NetFirewallRule -DisplayName 'svcscope: Kerberos (UDP 88)' -Group 'svcscope: Kerberos Key Distribution Center' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 88 -Description 'Kerberos UDP 88 for Kerberos Key Distribution Center (seen in the payload); seen 69 flows from 18 clients, 2024-03-04T09:00:03.438586Z to 2024-03-04T09:08:39.139081Z'

# Local Security Authority — from evidence: ldap bindRequest, kerberos-spn ldap/dc01.corp.example, ldap searchRequest, pipe-bind lsarpc, pipe-bind samr, lsarpc pipe, samr pipe, pipe-bind drsuapi
New-NetFirewallRule -DisplayName 'svcscope: Global Catalog Server (TCP 3268)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3268 -Description 'Global Catalog Server TCP 3268 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z'
New-NetFirewallRule -DisplayName 'svcscope: LDAP Server (TCP 389)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 389 -Description 'LDAP Server TCP 389 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z'
New-NetFirewallRule -DisplayName 'svcscope: LDAP Server (UDP 389)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 389 -Description 'LDAP Server UDP 389 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z'
New-NetFirewallRule -DisplayName 'svcscope: RPC drsuapi (MS-DRSR) (dynamic RPC ports)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPC -Description 'RPC drsuapi (MS-DRSR) dynamic RPC ports for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z'
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Local Security Authority (seen in the payload); seen 63 flows from 19 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:09:20.206232Z'

# Net Logon — from evidence: endpoint-mapper netlogon, epm-request netlogon, ldap-ping request, pipe-bind netlogon, rpc-bind netlogon, netlogon pipe, NETLOGON share, SYSVOL share
New-NetFirewallRule -DisplayName 'svcscope: LDAP Server (UDP 389)' -Group 'svcscope: Net Logon' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 389 -Description 'LDAP Server UDP 389 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z'
New-NetFirewallRule -DisplayName 'svcscope: RPC (TCP 135)' -Group 'svcscope: Net Logon' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPCEPMap -Description 'RPC TCP 135 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z'
New-NetFirewallRule -DisplayName 'svcscope: RPC netlogon (MS-NRPC) (dynamic RPC ports)' -Group 'svcscope: Net Logon' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPC -Description 'RPC netlogon (MS-NRPC) dynamic RPC ports for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z'
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Net Logon' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Net Logon (seen in the payload); seen 72 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:30.464090Z'

# Remote Procedure Call (RPC) — from evidence: rpc-bind epmapper
New-NetFirewallRule -DisplayName 'svcscope: RPC (TCP 135)' -Group 'svcscope: Remote Procedure Call (RPC)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPCEPMap -Description 'RPC TCP 135 for Remote Procedure Call (RPC) (seen in the payload); seen 18 flows from 18 clients, 2024-03-04T09:00:03.553098Z to 2024-03-04T09:05:28.474898Z'

# Server — from evidence: kerberos-spn cifs/dc01.corp.example, kerberos-ticket cifs/dc01.corp.example, smb 3.1.1, IPC$ share, NETLOGON share, SYSVOL share, smb SMB 2/3
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Server' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Server (seen in the payload); seen 19 flows from 18 clients, 2024-03-04T09:00:02.000000Z to 2024-03-04T09:05:30.464090Z'

# Windows Time
New-NetFirewallRule -DisplayName 'svcscope: NTP (UDP 123)' -Group 'svcscope: Windows Time' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 123 -Description 'NTP UDP 123 for Windows Time; seen 18 flows from 18 clients, 2024-03-04T09:00:05.998535Z to 2024-03-04T09:05:30.906825Z'
