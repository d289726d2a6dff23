"""The use cases: each service takes the ports it needs (wxcomponent.ports) and knows nothing of
Lambda events; the composition root (wxcomponent.bootstrap) wires them."""
