"""The IC HTTP interface and HTTP gateway of the local replica (see docs/replica-http.md).

    from icchat.replica import Replica
    from icchat.replica.http import HttpServer
    with Replica() as replica, HttpServer(replica, port=0) as server:
        print(server.url)          # agents: HttpAgent({host: server.url}); await agent.fetchRootKey()
"""

from icchat.replica.http.server import HttpServer, serve

__all__ = ["HttpServer", "serve"]
