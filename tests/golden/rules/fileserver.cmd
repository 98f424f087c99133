REM Inbound firewall rules for 192.0.2.20 drafted by svcscope 0.1.0 from observed traffic.
REM Traffic: fixtures/domain.pcapng (2024-03-04T09:00:29.536082Z to 2024-03-04T09:06:52.011495Z).
REM REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
REM did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
REM these services come from warns itself that its port list is not a firewall configuration.

REM NetBIOS Session Service — service not determined (no evidence of which was used); candidates: Computer Browser, Distributed File System, Fax Service, License Logging, Net Logon, Performance Logs and Alerts, Print Spooler, Remote Procedure Call (RPC) Locator, Server, Systems Management Server 2.0
netsh advfirewall firewall add rule name="svcscope: NetBIOS Session Service (TCP 139)" dir=in action=allow protocol=TCP localport=139 description="NetBIOS Session Service TCP 139 for Computer Browser, Distributed File System, Fax Service, License Logging, Net Logon, Performance Logs and Alerts, Print Spooler, Remote Procedure Call (RPC) Locator, Server, Systems Management Server 2.0; seen 2 flows from 2 clients, 2024-03-04T09:02:30.000000Z to 2024-03-04T09:06:52.011495Z"

REM SMB — service not determined (no evidence of which was used); candidates: Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 description="SMB TCP 445 for Distributed File System, Fax Service, License Logging, Net Logon, Print Spooler, Remote Procedure Call (RPC) Locator, Server; seen 12 flows from 12 clients, 2024-03-04T09:00:29.536082Z to 2024-03-04T09:05:58.820041Z"
