"""CelebA reading, preprocessing, subset manifests and captions."""
