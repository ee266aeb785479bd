"""Setup's last step: import the stack for real and exercise each library once."""

import sys

try:
    import faiss
    import numpy as np
    import timm
    import torch
    import torchvision
    from torchvision.ops import box_iou  # needs torchvision's compiled ops to match torch

    box_iou(torch.zeros(1, 4), torch.ones(1, 4))
    timm.create_model("resnet18", pretrained=False, num_classes=0)
    index = faiss.IndexFlatIP(4)
    index.add(np.eye(4, dtype="float32"))
except Exception as err:  # noqa: BLE001 - any failure here means a broken environment
    print(f"import check FAILED: {type(err).__name__}: {err}", file=sys.stderr)
    sys.exit(1)
gpu = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
print(
    f"import check ok: torch {torch.__version__}, torchvision {torchvision.__version__}, "
    f"timm {timm.__version__}, faiss {faiss.__version__}; device {gpu}"
)
