routine "charge" { http = { method = "POST", url = "${CHARGE_URL}/charge", timeout = "60s" } }

workflow "charge" {
  start = "Charge",
  states = { Charge = task { routine = "charge", result = "$.charge" } },
}

workflow "nap" {
  start = "Nap",
  states = {
    Nap  = wait { seconds = 2, next = "Done" },
    Done = pass { value = "rested" },
  },
}
