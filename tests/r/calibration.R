# Reference values for tests/test_calibration_r_reference.py.
# Usage: Rscript calibration.R input.csv scalars_out.csv
# input.csv: columns dataset, y (0/1), p (predicted probability).
# Output: one row per (dataset, key, value); values printed with 17 digits.
suppressPackageStartupMessages(library(rms))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "integer", "numeric"))
fmt <- function(x) sprintf("%.17g", x)
out_ds <- character(); out_key <- character(); out_val <- character()
add <- function(ds, key, value) {
  out_ds <<- c(out_ds, rep(ds, length(key)))
  out_key <<- c(out_key, key)
  out_val <<- c(out_val, fmt(value))
}

# ResourceSelection::hoslem.test (0.3-5), its computing lines verbatim; the
# package is not in Debian, so the test is re-done here in base R.
hoslem <- function(x, y, g = 10) {
  yhat <- y
  y <- x
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1/g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - y, y1 = y) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2/expected)
  PVAL <- 1 - pchisq(chisq, g - 2)
  list(statistic = chisq, parameter = g - 2, p.value = PVAL, groups = cutyhat)
}

for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  y <- s$y
  p <- s$p

  # val.prob stops where lrm.fit cannot fit (e.g. one value left strictly between 0 and 1):
  # NA then, which radsnake must match with NaN and a reason.
  v <- tryCatch(suppressWarnings(val.prob(p, y, pl = FALSE)), error = function(e) NULL)
  add(ds, "valprob_failed", as.numeric(is.null(v)))
  if (is.null(v)) v <- list(Intercept = NA, Slope = NA, Brier = mean((p - y)^2), Emax = NA, E90 = NA, Eavg = NA)
  for (k in c("Intercept", "Slope", "Brier", "Emax", "E90", "Eavg")) add(ds, k, v[[k]])

  fin <- is.finite(qlogis(p))
  citl <- coef(glm(y[fin] ~ 1, offset = qlogis(p[fin]), family = binomial,
                   control = glm.control(epsilon = 1e-14, maxit = 100)))
  add(ds, "citl", citl)

  if (length(unique(p)) > 1) {
    sm <- approx(lowess(p, y, iter = 0), xout = p, ties = mean)$y
    add(ds, paste0("lowess_", seq_along(p) - 1), sm)

    for (g in c(10, 5)) {
      h <- hoslem(y, p, g)
      add(ds, paste0("hl", g, "_statistic"), h$statistic)
      add(ds, paste0("hl", g, "_df"), h$parameter)
      add(ds, paste0("hl", g, "_p"), h$p.value)
      add(ds, paste0("hl", g, "_ngroups"), nlevels(h$groups))
    }
    # binned calibration curve on the decile groups, Wilson CI from prop.test; a
    # step-valued predictor (at most 10 distinct values) has one group per value
    grp <- if (length(unique(p)) <= 10) factor(p) else hoslem(y, p, 10)$groups
    for (k in seq_len(nlevels(grp))) {
      in_k <- as.integer(grp) == k
      nk <- sum(in_k)
      if (nk == 0) next
      ev <- sum(y[in_k])
      ci <- suppressWarnings(prop.test(ev, nk, correct = FALSE))$conf.int
      key <- paste0("cc_", k - 1, "_")
      add(ds, paste0(key, "n"), nk)
      add(ds, paste0(key, "observed"), ev / nk)
      add(ds, paste0(key, "mean_predicted"), mean(p[in_k]))
      add(ds, paste0(key, "ci_low"), ci[1])
      add(ds, paste0(key, "ci_high"), ci[2])
    }
  }

  # decision curve, written from Vickers & Elkin's formula (treated: p >= pt)
  n <- length(y)
  prev <- mean(y)
  for (k in 1:99) {
    pt <- k / 100
    tp <- sum(p >= pt & y == 1)
    fp <- sum(p >= pt & y == 0)
    add(ds, paste0("nb_", k), tp / n - fp / n * pt / (1 - pt))
    add(ds, paste0("nball_", k), prev - (1 - prev) * pt / (1 - pt))
  }
}
write.csv(data.frame(dataset = out_ds, key = out_key, value = out_val), args[2],
          row.names = FALSE)
