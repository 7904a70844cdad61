"""Step previews: the predicted clean image x0, decoded cheaply to a small RGB image."""
