REM Inbound firewall rules for 192.0.2.20 drafted by svcscope 0.1.0 from observed traffic.
REM Traffic: fixtures/domain.pcapng (2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z).
REM REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
REM did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
REM these services come from warns itself that its port list is not a firewall configuration.

REM Print Spooler — from evidence: pipe-bind spoolss, spoolss pipe
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 remoteip=192.0.2.102,192.0.2.107,192.0.2.112,192.0.2.117 description="SMB TCP 445 for Print Spooler (seen in the payload); seen 4 flows from 4 clients, 2024-03-04T09:01:22.254205Z to 2024-03-04T09:06:41.166380Z"

REM Server — from evidence: IPC$ share, pipe-bind srvsvc, srvsvc pipe, kerberos-spn cifs/fs01.corp.example, smb 3.1.1, smb 3.0.2, smb 3.0, smb SMB1
netsh advfirewall firewall add rule name="svcscope: NetBIOS Session Service (TCP 139)" dir=in action=allow protocol=TCP localport=139 remoteip=192.0.2.101,192.0.2.102,192.0.2.104,192.0.2.105,192.0.2.106,192.0.2.107,192.0.2.108,192.0.2.110,192.0.2.111,192.0.2.112,192.0.2.113,192.0.2.114,192.0.2.116,192.0.2.117 description="NetBIOS Session Service TCP 139 for Server (seen in the payload); seen 21 flows from 14 clients, 2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z"
netsh advfirewall firewall add rule name="svcscope: SMB (TCP 445)" dir=in action=allow protocol=TCP localport=445 remoteip=192.0.2.101,192.0.2.102,192.0.2.104,192.0.2.105,192.0.2.106,192.0.2.107,192.0.2.108,192.0.2.110,192.0.2.111,192.0.2.112,192.0.2.113,192.0.2.114,192.0.2.116,192.0.2.117 description="SMB TCP 445 for Server (seen in the payload); seen 21 flows from 14 clients, 2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z"
