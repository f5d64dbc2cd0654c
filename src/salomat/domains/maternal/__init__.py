"""Maternal care: the pregnancy register, antenatal contacts and the advice they give.

Above the registry in the domain graph: a pregnancy belongs to a person of the
registry, read through its service. Rules are ``service.rules`` (pure), dating
``service.dating`` (pure); the use cases that store things are ``service.pregnancy``
(reading the register) and the modules beside it (``pregnancy_opening``,
``pregnancy_contacts``, ``pregnancy_closing``, ``birth``, ``referrals``, ...).
"""
