# Inbound firewall rules for 192.0.2.1 drafted by svcscope 0.1.0 from observed traffic.
# Traffic: fixtures/domain.pcapng (2024-03-04T09:02:00.000000Z to 2024-03-04T09:07:40.734299Z).
# REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it
# did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article
# these services come from warns itself that its port list is not a firewall configuration.

# Local Security Authority
New-NetFirewallRule -DisplayName 'svcscope: IPSec ISAKMP (UDP 500)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 500 -RemoteAddress 203.0.113.60 -Description 'IPSec ISAKMP UDP 500 for Local Security Authority; seen 1 flow from 1 client, 2024-03-04T09:05:40.000000Z to 2024-03-04T09:05:40.031000Z'
New-NetFirewallRule -DisplayName 'svcscope: NAT-T (UDP 4500)' -Group 'svcscope: Local Security Authority' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 4500 -RemoteAddress 203.0.113.60 -Description 'NAT-T UDP 4500 for Local Security Authority; seen 1 flow from 1 client, 2024-03-04T09:05:40.051000Z to 2024-03-04T09:07:40.734299Z'

# Routing and Remote Access
New-NetFirewallRule -DisplayName 'svcscope: GRE (IP protocol 47)' -Group 'svcscope: Routing and Remote Access' -Direction Inbound -Action Allow -Protocol 47 -RemoteAddress 203.0.113.50 -Description 'GRE (IP protocol 47) for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:02:01.867397Z to 2024-03-04T09:04:30.571108Z'
New-NetFirewallRule -DisplayName 'svcscope: IPSec ESP (IP protocol 50)' -Group 'svcscope: Routing and Remote Access' -Direction Inbound -Action Allow -Protocol 50 -RemoteAddress 203.0.113.60 -Description 'IPSec ESP (IP protocol 50) for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:05:40.421913Z to 2024-03-04T09:07:40.603299Z'
New-NetFirewallRule -DisplayName 'svcscope: PPTP (TCP 1723)' -Group 'svcscope: Routing and Remote Access' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 1723 -RemoteAddress 203.0.113.50 -Description 'PPTP TCP 1723 for Routing and Remote Access; seen 1 flow from 1 client, 2024-03-04T09:02:00.000000Z to 2024-03-04T09:04:30.752097Z'
