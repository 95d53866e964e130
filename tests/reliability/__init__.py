"""The reliability and security suite: crashes, faults, outages and bad input cost nothing."""
