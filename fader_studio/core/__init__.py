"""Qt-free core: the network, model files, inference and (later) faces and images."""
