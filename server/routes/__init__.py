"""HTTP and WebSocket routers, one module per concern."""
