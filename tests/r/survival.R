# Reference values for tests/test_survival_r_reference.py.
# Usage: Rscript survival.R input.csv out.csv
# input.csv: columns dataset, time, event, risk, s1, s2 (predicted survival at the horizons
# h1, h2), h1, h2, group (0 low / 1 high risk), x1, x2 (covariates).
# Output: one row per (dataset, key, value); values printed with 17 digits.
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(dataset = "character"))
fmt <- function(x) sprintf("%.17g", x)
out <- list()
add <- function(ds, key, value) {
  out[[length(out) + 1]] <<- data.frame(dataset = ds, key = key, value = fmt(value))
}

for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  h <- c(s$h1[1], s$h2[1])

  cf <- concordance(Surv(time, event) ~ risk, data = s, reverse = TRUE)
  add(ds, "harrell_c", cf$concordance)
  add(ds, "harrell_var", cf$var)
  add(ds, "harrell_ci_low", cf$concordance - qnorm(0.975) * sqrt(cf$var))
  add(ds, "harrell_ci_high", cf$concordance + qnorm(0.975) * sqrt(cf$var))
  add(ds, "uno_c", concordance(Surv(time, event) ~ risk, data = s, reverse = TRUE, timewt = "n/G2")$concordance)
  add(ds, "uno_c_tau", concordance(Surv(time, event) ~ risk, data = s, reverse = TRUE, timewt = "n/G2",
                                   ymax = h[2])$concordance)

  # td-AUC and Brier at the horizons: predicted risks (1 - survival), one column per horizon.
  # The AUC of a risk constant over time is the AUC of `risk` itself.
  sc <- Score(list(m = cbind(1 - s$s1, 1 - s$s2)), formula = Surv(time, event) ~ 1, data = s,
              times = h, metrics = c("auc", "brier"), cens.model = "km", null.model = FALSE,
              conf.int = FALSE)
  add(ds, c("auc_h1", "auc_h2"), sc$AUC$score$AUC)
  add(ds, c("brier_h1", "brier_h2"), sc$Brier$score$Brier)
  sa <- Score(list(m = cbind(s$risk, s$risk)), formula = Surv(time, event) ~ 1, data = s,
              times = h, metrics = "auc", cens.model = "km", null.model = FALSE, conf.int = FALSE)
  add(ds, c("auc_risk_h1", "auc_risk_h2"), sa$AUC$score$AUC)

  sd <- survdiff(Surv(time, event) ~ group, data = s)
  add(ds, "logrank_chisq", sd$chisq)
  add(ds, "logrank_p", pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))

  for (spec in list(c("group"), c("x1"), c("x1", "x2"))) {
    fit <- coxph(as.formula(paste("Surv(time, event) ~", paste(spec, collapse = "+"))), data = s,
                 ties = "efron", control = coxph.control(eps = 1e-12, iter.max = 100))
    tab <- summary(fit)$coefficients
    ci <- summary(fit)$conf.int
    tag <- paste(spec, collapse = "+")
    for (v in spec) {
      add(ds, paste0("cox[", tag, "]_", v, "_coef"), tab[v, "coef"])
      add(ds, paste0("cox[", tag, "]_", v, "_se"), tab[v, "se(coef)"])
      add(ds, paste0("cox[", tag, "]_", v, "_lower"), ci[v, "lower .95"])
      add(ds, paste0("cox[", tag, "]_", v, "_upper"), ci[v, "upper .95"])
      add(ds, paste0("cox[", tag, "]_", v, "_p"), tab[v, "Pr(>|z|)"])
    }
  }

  km <- survfit(Surv(time, event) ~ 1, data = s, conf.type = "log-log")
  add(ds, paste0("km_surv_", seq_along(km$time) - 1), km$surv)
  add(ds, paste0("km_nrisk_", seq_along(km$time) - 1), km$n.risk)
  add(ds, paste0("km_low_", seq_along(km$time) - 1), km$lower)
  add(ds, paste0("km_high_", seq_along(km$time) - 1), km$upper)
  add(ds, "km_n", length(km$time))
  add(ds, "km_median", summary(km)$table[["median"]])
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
