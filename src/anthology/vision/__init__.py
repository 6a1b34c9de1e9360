"""Image classification: data loaders (digits, Fashion-MNIST, CIFAR-10) and small vision models."""
