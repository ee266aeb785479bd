import faiss
import numpy as np
import pytest
import torch

import pretrain.core.search as search
from pretrain.core.search import GPU_MAX_K, cosine_search


class FakeGpuIndex:
    """Stands in for a FAISS GPU index: wraps the CPU index but, like the GPU, refuses k above a limit."""

    def __init__(self, index, limit):
        self.index, self.limit, self.searches = index, limit, []

    def add(self, x):
        self.index.add(x)

    def search(self, q, k):
        if k > self.limit:
            raise RuntimeError(f"k={k} above the GPU selection limit {self.limit}")
        self.searches.append(k)
        return self.index.search(q, k)


def exact_cpu_search(bank, queries, k):
    a = search.as_faiss_array(torch.nn.functional.normalize(bank, dim=1))
    b = search.as_faiss_array(torch.nn.functional.normalize(queries, dim=1))
    index = faiss.IndexFlatIP(a.shape[1])
    index.add(a)
    return index.search(b, k)


class FakeGpu:
    """Records the indexes "moved to the GPU"; each refuses k above `limit`."""

    def __init__(self, limit):
        self.limit, self.made = limit, []

    def to_gpu_index(self, index):
        self.made.append(FakeGpuIndex(index, self.limit))
        return self.made[-1]


@pytest.fixture
def fake_gpu(monkeypatch):
    gpu = FakeGpu(limit=4)
    monkeypatch.setattr(search, "faiss_gpu_available", lambda: True)
    monkeypatch.setattr(search, "to_gpu_index", gpu.to_gpu_index)
    return gpu


def test_default_gpu_max_k_is_faiss_gpu_limit(fake_gpu):
    assert GPU_MAX_K == 2048
    fake_gpu.limit = 2048
    bank = torch.randn(2049, 4, generator=torch.Generator().manual_seed(2))
    queries = bank[:2]
    cosine_search(bank, queries, 2048)
    assert len(fake_gpu.made) == 1 and fake_gpu.made[0].searches == [2048]
    _, positions = cosine_search(bank, queries, 2049)  # the GPU would refuse: exact CPU index instead
    assert len(fake_gpu.made) == 1 and positions.shape == (2, 2049)


def test_k_above_gpu_limit_falls_back_to_exact_cpu_index(fake_gpu):
    gen = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(50, 8, generator=gen), torch.randn(7, 8, generator=gen)
    sims, positions = cosine_search(bank, queries, 10, gpu_max_k=4)
    want_sims, want_positions = exact_cpu_search(bank, queries, 10)
    assert fake_gpu.made == []  # the GPU index was never built for k=10
    assert sims.shape == positions.shape == (7, 10)
    assert sims.dtype == torch.float32 and positions.dtype == torch.long
    np.testing.assert_array_equal(sims.numpy(), want_sims)
    np.testing.assert_array_equal(positions.numpy(), want_positions)


def test_k_within_gpu_limit_uses_gpu_index(fake_gpu):
    gen = torch.Generator().manual_seed(1)
    bank, queries = torch.randn(50, 8, generator=gen), torch.randn(7, 8, generator=gen)
    sims, positions = cosine_search(bank, queries, 3, gpu_max_k=4)
    assert len(fake_gpu.made) == 1 and fake_gpu.made[0].searches == [3]
    want_sims, want_positions = exact_cpu_search(bank, queries, 3)
    np.testing.assert_array_equal(sims.numpy(), want_sims)
    assert positions.dtype == torch.long
    np.testing.assert_array_equal(positions.numpy(), want_positions)
