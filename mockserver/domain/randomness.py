"""The fake's random sources: independent seeded streams, and ids made from their bits."""

from __future__ import annotations

import random


class Randomness:
    """Independent random streams, so that (say) tracing never shifts the next task id.

    With a seed every stream is reproducible run to run; without one, ids and trace ids come
    from the operating system's generator.
    """

    STREAMS = ("ids", "plans", "traces", "dialect", "faults", "webhooks")
    # Seen by clients, so unguessable when there is no seed.
    UNPREDICTABLE = ("ids", "traces")

    ids: random.Random
    plans: random.Random
    traces: random.Random
    dialect: random.Random
    faults: random.Random
    webhooks: random.Random  # webhook delivery faults drawn by their rates

    def __init__(self, seed: int | None) -> None:
        for name in self.STREAMS:
            if seed is not None:
                stream = random.Random(f"{seed}/{name}")
            elif name in self.UNPREDICTABLE:
                stream = random.SystemRandom()
            else:
                stream = random.Random()
            setattr(self, name, stream)

    def unpredictable_ids(self) -> None:
        """Draw ids from the operating system's generator even with a seed (several processes
        sharing one seed would otherwise make the same ids)."""
        self.ids = random.SystemRandom()

    def reseed(self, seed: int | None) -> None:
        """Back to the start of every stream (in place, so holders of a stream keep it)."""
        fresh = Randomness(seed)
        for name in self.STREAMS:
            current, new = getattr(self, name), getattr(fresh, name)
            if isinstance(current, random.SystemRandom) or type(current) is not type(new):
                setattr(self, name, new)
            else:
                current.setstate(new.getstate())


_VERSION_MASK = ~((0xF << 76) | (0xC << 60))
_VERSION_BITS = (0x4 << 76) | (0x8 << 60)


def uuid4_from(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (what ``uuid.UUID(int=..., version=4)``
    gives, without building the object)."""
    h = "%032x" % ((bits & _VERSION_MASK) | _VERSION_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
