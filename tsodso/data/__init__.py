"""Data layer: case files -> typed arrays (`System`). No optimisation model lives here.

    load_system(scenario=None, adns=5, hours=24, seed=0) -> System
    read_case(path) -> MatpowerCase;  transmission_from_case(...);  feeder_from_case(...)
    CaseError: every user error in a case, profile or scenario file.
"""
from .errors import CaseError
from .system import ADN, System, Transmission
from .matpower import (Feeder, MatpowerCase, feeder_from_case, read_case,
                       transmission_from_case)
from .builder import (case_dir, default_scenario_path, electrical_distance_pu, legacy_scenario_path,
                      load_system, read_profiles, read_scenario)

__all__ = ["CaseError", "ADN", "System", "Transmission", "Feeder", "MatpowerCase",
           "feeder_from_case", "read_case", "transmission_from_case", "case_dir",
           "default_scenario_path", "legacy_scenario_path", "electrical_distance_pu", "load_system", "read_profiles",
           "read_scenario"]
