# Reference values from rms (cph + Survival + nomogram) for
# tests/test_survival_nomogram_r_reference.py.
# Usage: Rscript survival_nomogram.R data.csv ticks.csv out.csv
#   data.csv: time, event, age, sex, stage, radscore (the training cases); ticks.csv: p
#   (the survival probabilities marked on each horizon's axis).
# Output: long CSV  key,value  (17 significant digits).
suppressPackageStartupMessages(library(rms))
args <- commandArgs(trailingOnly = TRUE)
fmt <- function(x) sprintf("%.17g", x)
out <- list()
add <- function(key, value) out[[length(out) + 1]] <<- data.frame(key = key, value = fmt(value))

d <- read.csv(args[1], colClasses = c("numeric", "integer", "numeric", "character", "character", "numeric"))
d$sex <- factor(d$sex)
d$stage <- factor(d$stage)
ticks <- read.csv(args[2])$p
dd <- datadist(d)
options(datadist = "dd")
# cph's default convergence is tightened, as the Python side fits to 1e-12.
f <- cph(Surv(time, event) ~ age + sex + stage + radscore, data = d, x = TRUE, y = TRUE, surv = TRUE,
         eps = 1e-12, iter.max = 100)
for (name in names(coef(f))) add(paste("coef", name, sep = "|"), coef(f)[[name]])
add("center", f$center)
surv <- Survival(f)
for (h in c(12, 24)) add(paste("baseline", h, sep = "|"), surv(h, 0))
for (i in 1:5) for (h in c(12, 24)) add(paste("survival", i, h, sep = "|"), surv(h, f$linear.predictors[i]))
s12 <- function(lp) surv(12, lp)
s24 <- function(lp) surv(24, lp)
# The linear predictors at which S(h) equals each tick, given as fun.lp.at: with fun.at, rms
# inverts each function by linear interpolation over 1000 points (approximate).
at <- function(h) log(log(ticks) / log(surv(h, 0)))
nom <- nomogram(f, fun = list(s12, s24), fun.lp.at = list(at(12), at(24)), lp = FALSE,
                funlabel = c("S12", "S24"))
for (v in c("age", "sex", "stage", "radscore")) {
  s <- nom[[v]]
  vals <- s[[v]]
  for (k in seq_along(vals)) {
    at <- if (is.numeric(vals)) k else as.character(vals[k])
    add(paste("nom", v, at, "points", sep = "|"), s$points[k])
    if (is.numeric(vals)) add(paste("nom", v, k, "value", sep = "|"), vals[k])
  }
}
tp <- nom[["total.points"]]$x
for (k in seq_along(tp)) add(paste("nom|total", k, "value", sep = "|"), tp[k])
for (axis in c("S12", "S24")) {
  a <- nom[[axis]]
  for (k in seq_along(a$x)) add(paste("nom", axis, fmt(a$x.real[k]), sep = "|"), a$x[k])
}
info <- attr(nom, "info")
add("nom|sc", info$sc)
add("nom|intercept", info$Intercept)
write.csv(do.call(rbind, out), args[3], row.names = FALSE)
