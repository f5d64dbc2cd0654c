"""Sick-leave certificates: issued by doctors, held by citizens, checked by employers."""
