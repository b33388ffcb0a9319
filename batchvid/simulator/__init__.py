"""The gateway simulator: the documented API on loopback, with misbehaviour on demand."""
