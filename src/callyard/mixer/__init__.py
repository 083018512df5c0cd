"""Conference mixer: a process of its own that terminates RTP for the parties of rooms,
decodes G.711, mixes in 20 ms frames and sends each party what it hears."""
