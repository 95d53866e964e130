"""One sync cycle: pull contacts, decide, launch research, collect, answer signals, write."""
