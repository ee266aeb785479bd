"""The built-in datasets, one module each; importing this package registers them all
(``pretrain.core.data.DATASETS`` does so on its first lookup). A new dataset is a module
here with one ``@register_dataset("name")`` function, listed below."""

from pretrain.core.datasets import (  # noqa: F401
    cifar,
    fashion_mnist,
    image_folder,
    mnist_idx,
    stl10,
    svhn,
    synthetic,
)
