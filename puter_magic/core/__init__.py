"""The session layer: Session, one answer in flight, conversations and their files, the loop thread."""
