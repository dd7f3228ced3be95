# Reference values from base R (glm, wilcox.test, t.test, p.adjust, pretty) and
# rms (lrm + nomogram) for tests/test_clinical.py and tests/test_feature_stats.py.
# Usage:
#   Rscript clinical.R clinical data.csv ranges.csv out.csv
#     data.csv: y (0/1), age, sex, stage, radscore; ranges.csv: id, lo, hi, n
#   Rscript clinical.R features data.csv out.csv
#     data.csv: y (0/1) then one column per feature
# Output: long CSV  key,value  (values printed with 17 significant digits).
args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
fmt <- function(x) sprintf("%.17g", x)
out <- list()
add <- function(key, value) {
  out[[length(out) + 1]] <<- data.frame(key = key, value = fmt(value))
}

if (mode == "clinical") {
  suppressPackageStartupMessages(library(rms))
  d <- read.csv(args[2], colClasses = c("integer", "numeric", "character", "character", "numeric"))
  d$sex <- factor(d$sex)
  d$stage <- factor(d$stage)
  ctl <- glm.control(epsilon = 1e-14, maxit = 100)  # tighter than the default 1e-8
  tab <- function(model, fit) {
    est <- coef(fit)
    ci <- exp(confint.default(fit))
    p <- summary(fit)$coefficients[, 4]
    for (t in names(est)[-1]) {
      add(paste(model, t, "or", sep = "|"), exp(est[[t]]))
      add(paste(model, t, "lo", sep = "|"), ci[t, 1])
      add(paste(model, t, "hi", sep = "|"), ci[t, 2])
      add(paste(model, t, "p", sep = "|"), p[[t]])
    }
  }
  for (v in c("age", "sex", "stage", "radscore")) {
    tab(paste0("uni_", v), glm(as.formula(paste("y ~", v)), family = binomial, data = d, control = ctl))
  }
  tab("multi", glm(y ~ age + sex + stage + radscore, family = binomial, data = d, control = ctl))

  # Nomogram of the combined model. datadist of the data, as a paper would do on the
  # training set; lrm's default convergence (eps = 0.025 in -2 log L) is tightened.
  dd <- datadist(d)
  options(datadist = "dd")
  f <- lrm(y ~ age + sex + stage + radscore, data = d, eps = 1e-12, maxit = 100)
  probs <- c(0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
  nom <- nomogram(f, fun = plogis, fun.lp.at = qlogis(probs), lp = FALSE,
                  funlabel = "Predicted probability")
  for (v in c("age", "sex", "stage", "radscore")) {
    s <- nom[[v]]
    vals <- s[[v]]
    for (k in seq_along(vals)) {
      at <- if (is.numeric(vals)) k else as.character(vals[k])  # tick number or level
      add(paste("nom", v, at, "points", sep = "|"), s$points[k])
      if (is.numeric(vals)) add(paste("nom", v, k, "value", sep = "|"), vals[k])
    }
  }
  tp <- nom[["total.points"]]$x
  for (k in seq_along(tp)) add(paste("nom|total", k, "value", sep = "|"), tp[k])
  pp <- nom[["Predicted probability"]]
  for (k in seq_along(pp$x)) add(paste("nom|prob", k, "points", sep = "|"), pp$x[k])  # k-th of probs
  info <- attr(nom, "info")
  add("nom|sc", info$sc)
  add("nom|intercept", info$Intercept)

  ranges <- read.csv(args[3])
  for (i in seq_len(nrow(ranges))) {
    pr <- pretty(c(ranges$lo[i], ranges$hi[i]), n = ranges$n[i])
    for (k in seq_along(pr)) add(paste("pretty", ranges$id[i], k, sep = "|"), pr[k])
  }
  write.csv(do.call(rbind, out), args[4], row.names = FALSE)
} else if (mode == "features") {
  d <- read.csv(args[2])
  y <- d$y
  feats <- setdiff(names(d), "y")
  pw <- pt <- setNames(numeric(length(feats)), feats)
  for (f in feats) {
    x1 <- d[[f]][y == 1]
    x0 <- d[[f]][y == 0]
    pw[f] <- suppressWarnings(wilcox.test(x1, x0, exact = FALSE, correct = TRUE)$p.value)
    # t.test stops on "data are essentially constant": NA, as the Python side gives NaN
    pt[f] <- tryCatch(t.test(x1, x0)$p.value, error = function(e) NA_real_)
  }
  bw <- p.adjust(pw, method = "BH")
  bt <- p.adjust(pt, method = "BH")
  for (f in feats) {
    add(paste(f, "wilcox_p", sep = "|"), pw[[f]])
    add(paste(f, "wilcox_fdr", sep = "|"), bw[[f]])
    add(paste(f, "t_p", sep = "|"), pt[[f]])
    add(paste(f, "t_fdr", sep = "|"), bt[[f]])
  }
  write.csv(do.call(rbind, out), args[3], row.names = FALSE)
} else {
  stop("mode must be 'clinical' or 'features'")
}
