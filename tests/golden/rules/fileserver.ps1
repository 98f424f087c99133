# Inbound firewall rules for 192.0.2.20 drafted by svcscope 0.1.0 from observed traffic.
# Traffic: fixtures/domain.pcapng (2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z).
# REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
# did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
# these services come from warns itself that its port list is not a firewall configuration.

# Print Spooler — from evidence: pipe-bind spoolss, spoolss pipe
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Print Spooler' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Print Spooler (seen in the payload); seen 4 flows from 4 clients, 2024-03-04T09:01:22.254205Z to 2024-03-04T09:06:41.166380Z'

# Server — from evidence: IPC$ share, pipe-bind srvsvc, srvsvc pipe, kerberos-spn cifs/fs01.corp.example, smb 3.1.1, smb 3.0.2, smb 3.0, smb SMB1
New-NetFirewallRule -DisplayName 'svcscope: NetBIOS Session Service (TCP 139)' -Group 'svcscope: Server' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 139 -Description 'NetBIOS Session Service TCP 139 for Server (seen in the payload); seen 21 flows from 14 clients, 2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z'
New-NetFirewallRule -DisplayName 'svcscope: SMB (TCP 445)' -Group 'svcscope: Server' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 445 -Description 'SMB TCP 445 for Server (seen in the payload); seen 21 flows from 14 clients, 2024-03-04T09:00:25.133298Z to 2024-03-04T09:06:52.019900Z'
