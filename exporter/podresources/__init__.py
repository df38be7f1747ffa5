"""The kubelet pod-resources v1 API: the proto, its generated stubs and our client."""
