"""Enrolling known faces: a picture checked before it is decoded (picture_size.py) and turned into
one embedding by the analyzer's own models (enrolment.py)."""
