"""What several benchmarks here do alike: make the input file, hash it, read an object back."""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

PIECE = 4 * 1024 * 1024  # bytes written or hashed at a time: no file is held whole


def in_pieces(length, produce, piece_size=PIECE):
    """Yields `length` bytes as produce(n) gives them, n <= piece_size at a time; a source
    that runs dry early is an error, not an endless loop."""
    left = length
    while left:
        piece = produce(min(piece_size, left))
        if not piece:
            raise EOFError(f"{left} of {length} bytes never came")
        yield piece
        left -= len(piece)


def write_random_file(path, size):
    """Writes `size` random bytes to `path` in pieces; returns their MD5 (hex)."""
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        for piece in in_pieces(size, os.urandom):
            md5.update(piece)
            f.write(piece)
    return md5.hexdigest()


def md5_of_prefix(path, length):
    """The MD5 (hex) of the first `length` bytes of the file at `path`."""
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for piece in in_pieces(length, f.read):
            md5.update(piece)
    return md5.hexdigest()


def get_and_md5(url, timeout=300):
    """GETs `url` streamed and MD5s it (the least a complete-upload on S3 must do);
    returns (seconds, md5 hex)."""
    began = time.perf_counter()
    md5 = hashlib.md5()
    with harness.http_session() as s, s.get(url, stream=True, timeout=timeout) as r:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            md5.update(chunk)
    return time.perf_counter() - began, md5.hexdigest()
