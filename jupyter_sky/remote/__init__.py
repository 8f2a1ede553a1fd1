"""Code that runs inside the remote kernel (shipped with the package to every target)."""
