"""Every use of a Keras internal, in one private place.

`adapter` holds the private attributes and methods the package relies on (the layer
tracker, the compiled optimizer and step functions, the saving walk, the in-place class
swap), each checked against the supported Keras versions by `tests/_keras`. `graph`
is the one walker of a model's layer graph: the consumer of an embedding, the layers
that read the token inputs, the layer that produces an output. Nothing outside this
package touches a Keras internal; `tests/test_architecture.py` checks it.
"""
