"""Prints one 64 MB line: the cell keeps at most the output cap (1 MiB) and ends with a truncation note."""

print("GAN-KIT-PROBE long_line " + "x" * (64 << 20))
