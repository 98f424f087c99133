# Inbound firewall rules for 192.0.2.10 drafted by svcscope 0.1.0 from observed traffic.
# Traffic: fixtures/domain.pcapng (2024-03-04T09:00:00.406533Z to 2024-03-04T09:09:17.606837Z).
# REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
# did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
# these services come from warns itself that its port list is not a firewall configuration.

# DHCP Server — shared by DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS)
New-NetFirewallRule -DisplayName 'svcscope: DHCP Server (UDP 67)' -Group 'svcscope: DHCP Server (shared by 2 services)' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 67 -Description 'DHCP Server UDP 67 for DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS); seen 1 flow from 1 client, 2024-03-04T09:00:00.406533Z to 2024-03-04T09:00:00.424267Z'

# DNS — shared by DNS Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS)
New-NetFirewallRule -DisplayName 'svcscope: DNS (TCP 53)' -Group 'svcscope: DNS (shared by 2 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 53 -Description 'DNS TCP 53 for DNS Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS); seen 1 flow from 1 client, 2024-03-04T09:05:00.000000Z to 2024-03-04T09:05:00.002635Z'
New-NetFirewallRule -DisplayName 'svcscope: DNS (UDP 53)' -Group 'svcscope: DNS (shared by 2 services)' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 53 -Description 'DNS UDP 53 for DNS Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS); seen 70 flows from 18 clients, 2024-03-04T09:00:03.429822Z to 2024-03-04T09:09:17.606837Z'

# Kerberos Key Distribution Center
New-NetFirewallRule -DisplayName 'svcscope: Kerberos (TCP 88)' -Group 'svcscope: Kerberos Key Distribution Center' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 88 -Description 'Kerberos TCP 88 for Kerberos Key Distribution Center; seen 42 flows from 18 clients, 2024-03-04T09:00:03.442486Z to 2024-03-04T09:08:39.740604Z'
New-NetFirewallRule -DisplayName 'svcscope: Kerberos (UDP 88)' -Group 'svcscope: Kerberos Key Distribution Center' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 88 -Description 'Kerberos UDP 88 for Kerberos Key Distribution Center; seen 18 flows from 18 clients, 2024-03-04T09:00:03.438586Z to 2024-03-04T09:05:31.369877Z'

# LDAP Server — shared by Distributed File System, Local Security Authority
New-NetFirewallRule -DisplayName 'svcscope: LDAP Server (TCP 389)' -Group 'svcscope: LDAP Server (shared by 2 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 389 -Description 'LDAP Server TCP 389 for Distributed File System, Local Security Authority; seen 18 flows from 18 clients, 2024-03-04T09:00:03.662478Z to 2024-03-04T09:05:31.768631Z'
New-NetFirewallRule -DisplayName 'svcscope: LDAP Server (UDP 389)' -Group 'svcscope: LDAP Server (shared by 2 services)' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 389 -Description 'LDAP Server UDP 389 for Distributed File System, Local Security Authority; seen 18 flows from 18 clients, 2024-03-04T09:00:03.433986Z to 2024-03-04T09:05:31.364977Z'

# Local Security Authority
New-NetFirewallRule -DisplayName 'svcscope: Global Catalog Server (TCP 3268)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3268 -Description 'Global Catalog Server TCP 3268 for Local Security Authority; seen 6 flows from 6 clients, 2024-03-04T09:00:12.414584Z to 2024-03-04T09:05:10.370423Z'

# RPC — shared by Certificate Services, Cluster Service, Distributed File System, Distributed Link Tracking Server, Distributed Transaction Coordinator, Event Log, Exchange Server, Fax Service, File Replication, Local Security Authority, Message Queuing, Remote Procedure Call (RPC), Remote Storage Notification, Remote Storage Server, Systems Management Server 2.0, Terminal Services Licensing, Terminal Services Session Directory
New-NetFirewallRule -DisplayName 'svcscope: RPC (TCP 135)' -Group 'svcscope: RPC (shared by 17 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPCEPMap -Description 'RPC TCP 135 for Certificate Services, Cluster Service, Distributed File System, Distributed Link Tracking Server, Distributed Transaction Coordinator, Event Log, Exchange Server, Fax Service, File Replication, Local Security Authority, Message Queuing, Remote Procedure Call (RPC), Remote Storage Notification, Remote Storage Server, Systems Management Server 2.0, Terminal Services Licensing, Terminal Services Session Directory; seen 18 flows from 18 clients, 2024-03-04T09:00:03.550924Z to 2024-03-04T09:05:31.490078Z'

# RPC dynamic (unconfirmed) — shared by Certificate Services, Cluster Service, Distributed File System, Distributed Link Tracking Server, Distributed Transaction Coordinator, Event Log, Exchange Server, Fax Service, File Replication, Local Security Authority, Remote Storage Notification, Remote Storage Server, Systems Management Server 2.0, Terminal Services Licensing, Terminal Services Session Directory
New-NetFirewallRule -DisplayName 'svcscope: RPC dynamic (unconfirmed) (dynamic RPC ports)' -Group 'svcscope: RPC dynamic (unconfirmed) (shared by 15 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPC -Description 'RPC dynamic (unconfirmed) dynamic RPC ports for Certificate Services, Cluster Service, Distributed File System, Distributed Link Tracking Server, Distributed Transaction Coordinator, Event Log, Exchange Server, Fax Service, File Replication, Local Security Authority, Remote Storage Notification, Remote Storage Server, Systems Management Server 2.0, Terminal Services Licensing, Terminal Services Session Directory; seen 18 flows from 18 clients, 2024-03-04T09:00:03.637002Z to 2024-03-04T09:05:31.744276Z'

# SMB — shared by Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: SMB (shared by 7 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server; seen 18 flows from 18 clients, 2024-03-04T09:00:03.490924Z to 2024-03-04T09:05:31.586488Z'

# Windows Time
New-NetFirewallRule -DisplayName 'svcscope: NTP (UDP 123)' -Group 'svcscope: Windows Time' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 123 -Description 'NTP UDP 123 for Windows Time; seen 18 flows from 18 clients, 2024-03-04T09:00:05.696936Z to 2024-03-04T09:05:33.799238Z'
