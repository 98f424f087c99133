# Inbound firewall rules for 192.0.2.20 drafted by svcscope 0.1.0 from observed traffic.
# Traffic: fixtures/domain.pcapng (2024-03-04T09:00:29.536082Z to 2024-03-04T09:06:52.011495Z).
# REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
# did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
# these services come from warns itself that its port list is not a firewall configuration.

# NetBIOS Session Service — service not determined (no evidence of which was used); candidates: Computer Browser, Distributed File System, Fax Service, License Logging, Net Logon, Performance Logs and Alerts, Print Spooler, Remote Procedure Call (RPC) Locator, Server, Systems Management Server 2.0
New-NetFirewallRule -DisplayName 'svcscope: NetBIOS Session Service (TCP 139)' -Group 'svcscope: NetBIOS Session Service (shared by 10 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 139 -Description 'NetBIOS Session Service TCP 139 for Computer Browser, Distributed File System, Fax Service, License Logging, Net Logon, Performance Logs and Alerts, Print Spooler, Remote Procedure Call (RPC) Locator, Server, Systems Management Server 2.0; seen 2 flows from 2 clients, 2024-03-04T09:02:30.000000Z to 2024-03-04T09:06:52.011495Z'

# SMB — service not determined (no evidence of which was used); candidates: Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: SMB (shared by 7 services)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server; seen 12 flows from 12 clients, 2024-03-04T09:00:29.536082Z to 2024-03-04T09:05:58.820041Z'
