"""Every constant of the synthetic world in one place, with what it means.

The world is a set of disputes between people. Each dispute carries

* ``R`` — recorded tension: a deterministic function of what the records show (calls, violence,
  threats, failed mediations), decaying daily;
* ``H`` — hidden tension: unreported conflict and private circumstances, never recorded (AR(1));
* a self-exciting call intensity ``E`` (Hawkes): each call raises the chance of the next.

A person's daily escalation hazard is the background rate plus, for each open dispute and for an
untreated crisis, ``h0 * exp(recorded part + hidden part)``. The *records oracle* keeps the recorded
part and replaces the hidden part by its mean; the *full oracle* is the true hazard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SimParams"]

CATEGORIES = ("family", "marital", "neighbour", "labour", "land", "debt", "consumer", "other")


SCENARIOS = ("none", "labour_surge", "recording_change")


@dataclass(frozen=True)
class SimParams:
    start_date: str = "2024-01-01"
    #: cadres' field reports and residents' tips (features/simulate/_grassroots.py, its own random stream)
    grassroots: bool = True
    #: Days simulated before ``start_date`` (burn-in). Their records are written like any others, dated
    #: before the window, as the past that features see: on the window's first day every 365-day
    #: feature is already in steady state (the world does not start empty). The oracle covers the
    #: window only; ``days`` counts the window.
    burn_in_days: int = 365
    # --- drift scenarios (for monitoring tests) ------------------------------------------------------
    #: none | labour_surge (wage disputes x strength from the scenario day) | recording_change (one
    #: prefecture's stations stop ticking flags and write generic notes from the scenario day)
    scenario: str = "none"
    scenario_day: int | None = None           # default: 120 days before the end
    scenario_strength: float = 4.0
    scenario_prefecture: str = "510100"       # 成都市
    # --- geography -------------------------------------------------------------------------------
    people_per_grid: int = 600
    grids_per_village: tuple[int, int] = (1, 3)
    villages_per_township: tuple[int, int] = (4, 10)
    household_size: float = 2.8
    unreachable_grid_share: float = 0.02      # grids whose staff have no inbox identity
    # --- people ----------------------------------------------------------------------------------
    migrant_share: float = 0.22               # hukou in another county (人户分离, migrant workers)
    local_mover_share: float = 0.08           # hukou elsewhere in the same county
    proneness_sigma: float = 0.9              # lognormal spread of how often a person gets into disputes
    vulnerability_sigma: float = 0.8        # hidden person-level hazard multiplier (log scale)
    mental_illness_share: float = 0.004       # severe mental illness (harm-risk category)
    mental_illness_registered: float = 0.75   # share of them with care records
    # --- disputes ----------------------------------------------------------------------------------
    disputes_per_person_year: float = 0.032
    category_mix: dict = field(default_factory=lambda: {
        "family": 0.17, "marital": 0.12, "neighbour": 0.22, "labour": 0.11, "land": 0.08,
        "debt": 0.12, "consumer": 0.08, "other": 0.10})
    # Baseline daily call rate at R=0, per category, and how tension raises it.
    base_call_rate: dict = field(default_factory=lambda: {
        "family": 0.030, "marital": 0.030, "neighbour": 0.022, "labour": 0.022, "land": 0.018,
        "debt": 0.020, "consumer": 0.015, "other": 0.015})
    call_tension_beta: float = 0.35
    hawkes_alpha: float = 0.10                # jump in daily intensity per call
    hawkes_decay_days: float = 4.0            # e-folding of the excitation
    max_calls_per_day: int = 3
    # Recorded-tension dynamics (R): daily decay and increments from recorded events.
    r_decay: float = 0.96
    r_per_call: float = 0.20
    r_per_violence: float = 0.55
    r_per_threat: float = 0.80
    r_per_failed_mediation: float = 0.65
    r_success_factor: float = 0.35           # R multiplied by this after a successful mediation
    r_initial: tuple[float, float] = (0.0, 0.6)
    r_cap: float = 4.0                        # tension saturates: calls and hazard stop growing
    # Hidden tension (H): AR(1), never recorded.
    h_rho: float = 0.985
    h_sigma: float = 0.17
    # Event probabilities (logistic in R + H where noted).
    p_violence: tuple[float, float] = (-3.0, 0.55)
    p_threat: tuple[float, float] = (-3.6, 0.65)
    p_threat_family_bonus: float = 0.6
    p_alcohol: float = 0.12
    p_weapon_given_violence: float = 0.18
    p_mediation_after_call: float = 0.40
    p_mediation_success: tuple[float, float] = (0.9, -0.55)
    p_resolve_after_success: float = 0.55
    daily_quiet_resolution: float = 0.012     # per day, when R is low
    max_dispute_days: int = 400
    resid_days: int = 180                     # a resolved dispute's grievance lingers this long
    resid_factor: float = 0.3                 # ... at this share of the open-dispute hazard
    # --- hazard ------------------------------------------------------------------------------------
    background_hazard: float = 2.0e-7         # per person-day, anyone
    dispute_h0: dict = field(default_factory=lambda: {
        "family": 20.8e-5, "marital": 22.4e-5, "neighbour": 12.8e-5, "labour": 12.8e-5, "land": 14.4e-5,
        "debt": 11.2e-5, "consumer": 4.0e-5, "other": 8.0e-5})
    hazard_r: float = 0.35                    # log-hazard per unit of recorded tension
    hazard_h: float = 1.0                     # log-hazard per unit of hidden tension
    hazard_threat_person: float = 0.7         # the person who made threats (recorded statements)
    hazard_aggressor: float = 0.6
    threat_memory: float = 0.985              # daily decay of a person's threat memory
    # --- mental illness / crisis (harm-risk) -------------------------------------------------------
    crisis_rho: float = 0.985
    crisis_sigma: float = 0.10
    p_med_stop: float = 0.004                 # per day, starts a medication stop spell
    p_med_resume: float = 0.03
    p_missed_followup_when_stopped: float = 0.5   # per monthly follow-up
    crisis_h0: float = 9.6e-5
    hazard_crisis: float = 1.3
    hazard_med_stopped: float = 1.6
    crisis_call_rate: float = 0.01            # disturbance calls per day at crisis 1
    # --- records mess ------------------------------------------------------------------------------
    p_party_unrecorded: float = 0.12          # only the caller is recorded
    p_dispute_link: float = 0.75              # incident linked to its dispute id
    p_duplicate_call: float = 0.03
    p_late_record: float = 0.05               # recorded 1-30 days late
    p_missing_address: float = 0.03
    p_missing_disposition: float = 0.05
    p_missing_flag: float = 0.04
    p_threat_flag_unset: float = 0.25         # threat only in the note text, flag not ticked
    p_category_label: float = 0.05            # Chinese label instead of the code
    p_bad_row: float = 0.001                  # unusable rows (quarantined at validation)
    p_typo: float = 0.03                      # homophone typo in the note

    def scenario_start(self, days: int) -> int:
        return max(0, days - 120) if self.scenario_day is None else int(self.scenario_day)
