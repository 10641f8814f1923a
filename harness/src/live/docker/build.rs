//! Building a scenario's `given` store in a Docker engine (being written).
