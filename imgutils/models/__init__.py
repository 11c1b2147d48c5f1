"""Models of the book. ``classifier``: the chapter-01 Fashion-MNIST CNN (also the feature
network of the generation metrics)."""
